package org.ssmpeft.runtime.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property: whatever is done to a valid file, opening and reading it either succeeds or throws
 * {@link SafetensorsException}; never another exception, never an out-of-memory, never a hang. Fixed seed.
 */
class SafetensorsCorruptionTest {

    private static final long SEED = 20250611L;
    private static final int CASES_PER_KIND = 150;
    private static final ObjectMapper JSON = new ObjectMapper();

    enum Corruption {
        TRUNCATE, FLIP_HEADER_BYTES, FLIP_ANY_BYTES, HUGE_HEADER_LENGTH, RANDOM_HEADER_LENGTH, OFFSETS_OUT_OF_RANGE,
        OVERLAPPING_OFFSETS, BAD_DTYPE, SHAPE_SIZE_MISMATCH, HUGE_SHAPE
    }

    @TempDir
    Path dir;

    private byte[] valid;
    private int headerLength;

    @Test
    void everyCorruptionLoadsCorrectlyOrFailsWithSafetensorsException() throws Exception {
        Path original = dir.resolve("valid.safetensors");
        var rnd = new Random(SEED);
        float[] a = new float[24];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        new SafetensorsWriter().metadata("format", "pt").putF32("layers.0.weight", a, 4, 6)
                .putF32("layers.0.bias", new float[] {1f, 2f, 3f}, 3).putI64("ids", new long[] {5, 6}, 1, 2)
                .putF32("scalar", new float[] {7f}).write(original);
        valid = Files.readAllBytes(original);
        headerLength = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();

        Map<Corruption, int[]> outcomes = new EnumMap<>(Corruption.class); // [loaded, rejected]
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            for (Corruption kind : Corruption.values()) {
                int[] counts = outcomes.computeIfAbsent(kind, k -> new int[2]);
                for (int i = 0; i < CASES_PER_KIND; i++) {
                    byte[] bytes = corrupt(kind, rnd);
                    Path file = dir.resolve("case.safetensors");
                    Files.write(file, bytes);
                    counts[openAndReadEverything(file) ? 0 : 1]++;
                }
            }
        });
        for (var e : outcomes.entrySet()) {
            System.out.printf("corruption %-22s loaded %3d, rejected %3d%n", e.getKey(), e.getValue()[0],
                    e.getValue()[1]);
        }
        // Structural corruptions must all be caught; the random ones must at least sometimes be.
        for (Corruption k : List.of(Corruption.HUGE_HEADER_LENGTH, Corruption.OFFSETS_OUT_OF_RANGE,
                Corruption.OVERLAPPING_OFFSETS, Corruption.BAD_DTYPE, Corruption.SHAPE_SIZE_MISMATCH,
                Corruption.HUGE_SHAPE)) {
            assertThat(outcomes.get(k)[0]).as("%s cases that loaded", k).isZero();
        }
        assertThat(outcomes.get(Corruption.TRUNCATE)[1]).isPositive();
        assertThat(outcomes.get(Corruption.FLIP_HEADER_BYTES)[1]).isPositive();
    }

    /** true = loaded and every tensor read back with its declared size; false = SafetensorsException. */
    private static boolean openAndReadEverything(Path file) {
        try (var f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                TensorInfo t = f.info(name);
                long n = t.elementCount();
                long read = switch (t.dtype()) {
                    case F32, F16, BF16, F64 -> f.readFloats(name).length;
                    case I64, I32, U32, I16, U16, I8, U8 -> f.readLongs(name).length;
                    default -> f.bytes(name).byteSize() / t.dtype().bytes();
                };
                assertThat(read).isEqualTo(n);
                assertThat(t.end()).isLessThanOrEqualTo(Files.size(file));
            }
            return true;
        } catch (SafetensorsException e) {
            assertThat(e.getMessage()).contains(file.toString());
            return false;
        } catch (IOException e) {
            throw new AssertionError("Files.size failed", e);
        }
    }

    private byte[] corrupt(Corruption kind, Random rnd) throws IOException {
        byte[] b = valid.clone();
        switch (kind) {
            case TRUNCATE -> {
                return java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
            }
            case FLIP_HEADER_BYTES -> {
                int flips = 1 + rnd.nextInt(4);
                for (int i = 0; i < flips; i++) {
                    b[8 + rnd.nextInt(headerLength)] ^= (byte) (1 + rnd.nextInt(255));
                }
                return b;
            }
            case FLIP_ANY_BYTES -> {
                int flips = 1 + rnd.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    b[rnd.nextInt(b.length)] ^= (byte) (1 + rnd.nextInt(255));
                }
                return b;
            }
            case HUGE_HEADER_LENGTH -> {
                long n = rnd.nextBoolean() ? rnd.nextLong() | Long.MIN_VALUE
                        : SafetensorsFile.MAX_HEADER_BYTES + 1 + (rnd.nextLong() & 0xffff_ffffL);
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
                return b;
            }
            case RANDOM_HEADER_LENGTH -> {
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, rnd.nextInt(b.length + 16));
                return b;
            }
            default -> {
                return withHeader(editHeader(kind, rnd));
            }
        }
    }

    private ObjectNode editHeader(Corruption kind, Random rnd) throws IOException {
        ObjectNode h = (ObjectNode) JSON.readTree(new String(valid, 8, headerLength, StandardCharsets.UTF_8));
        List<String> names = new ArrayList<>();
        h.fieldNames().forEachRemaining(n -> {
            if (!n.equals("__metadata__")) {
                names.add(n);
            }
        });
        // the victim is a tensor that owns bytes, so every edit below really breaks a rule
        names.removeIf(n -> h.get(n).get("data_offsets").get(1).asLong() == h.get(n).get("data_offsets").get(0).asLong());
        ObjectNode victim = (ObjectNode) h.get(names.get(rnd.nextInt(names.size())));
        ArrayNode off = (ArrayNode) victim.get("data_offsets");
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        long dataSize = valid.length - 8L - headerLength;
        switch (kind) {
            case OFFSETS_OUT_OF_RANGE -> {
                long shift = dataSize - begin + 1 + rnd.nextInt(1 << 20);
                off.set(0, begin + shift);
                off.set(1, end + shift);
            }
            case OVERLAPPING_OFFSETS -> {
                ObjectNode other = (ObjectNode) h.get(names.stream().filter(n -> h.get(n) != victim)
                        .skip(rnd.nextInt(names.size() - 1)).findFirst().orElseThrow());
                ArrayNode o = (ArrayNode) other.get("data_offsets");
                long len = end - begin;
                long target = o.get(0).asLong() + rnd.nextInt((int) (o.get(1).asLong() - o.get(0).asLong()));
                long newBegin = Math.max(0, Math.min(target, dataSize - len));
                if (newBegin + len <= o.get(0).asLong() || newBegin >= o.get(1).asLong()) {
                    newBegin = o.get(0).asLong(); // force a shared byte when clamping moved it away
                }
                off.set(0, newBegin);
                off.set(1, newBegin + len);
            }
            case BAD_DTYPE -> {
                String[] bad = {"F33", "f32", "", "FLOAT", "I128", "F4", "F32 "};
                victim.put("dtype", bad[rnd.nextInt(bad.length)]);
            }
            case SHAPE_SIZE_MISMATCH -> {
                ArrayNode shape = victim.putArray("shape");
                long elements = (end - begin) / dtypeBytes(victim);
                long wrong = elements + 1 + rnd.nextInt(100);
                shape.add(wrong);
            }
            case HUGE_SHAPE -> {
                ArrayNode shape = victim.putArray("shape");
                int dims = 1 + rnd.nextInt(4);
                for (int i = 0; i < dims; i++) {
                    shape.add(1L << (20 + rnd.nextInt(43)));
                }
            }
            default -> throw new IllegalStateException(kind.toString());
        }
        return h;
    }

    private static int dtypeBytes(ObjectNode entry) {
        return DType.fromHeaderName(entry.get("dtype").asText()).orElseThrow().bytes();
    }

    private byte[] withHeader(ObjectNode header) throws IOException {
        byte[] h = JSON.writeValueAsBytes(header);
        byte[] data = java.util.Arrays.copyOfRange(valid, 8 + headerLength, valid.length);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(h.length).put(h).put(data).array();
    }
}
