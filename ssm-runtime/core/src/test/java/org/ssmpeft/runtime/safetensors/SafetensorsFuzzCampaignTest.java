package org.ssmpeft.runtime.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property-based fuzz campaign of the reader: 2,000 seeded mutations of a small valid file (truncations, appended
 * bytes, header length ±k, byte flips in the length prefix, the header and the data, dtype and shape edits, duplicated,
 * overlapping, swapped and shifted offsets, removed entries, duplicate keys, padding). Every case must end either in
 * a load of exactly the tensors an independent reference reading of the file gives (names, dtypes, shapes and bytes;
 * the reference applies the format's rules, the data section tiled exactly included) or in a
 * {@link SafetensorsException} naming the file; never another throwable, never a case that allocates more than a
 * small multiple of the file's size, never a hang. Mutations that keep the file valid must load; mutations that
 * break a rule must be refused.
 */
class SafetensorsFuzzCampaignTest {

    private static final long SEED = 20260916L;
    private static final int CASES = 2_000;
    /** Heap a case may allocate: a fixed allowance for the JSON parser plus a multiple of the file size. */
    private static final long FIXED_ALLOWANCE = 2L << 20;
    private static final int SIZE_FACTOR = 16;
    private static final Duration CASE_LIMIT = Duration.ofSeconds(2);

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** What a mutation must lead to. */
    enum Expect { LOAD, REFUSE, EITHER }

    enum Mutation {
        TRUNCATE(Expect.REFUSE), APPEND_BYTES(Expect.REFUSE), HEADER_LENGTH_PLUS_K(Expect.REFUSE),
        HEADER_LENGTH_MINUS_K(Expect.REFUSE), FLIP_LENGTH_PREFIX(Expect.REFUSE), FLIP_HEADER_BYTES(Expect.EITHER),
        FLIP_DATA_BYTES(Expect.LOAD), DTYPE_SAME_WIDTH(Expect.LOAD), DTYPE_OTHER_WIDTH(Expect.REFUSE),
        DTYPE_UNKNOWN(Expect.REFUSE), RESHAPE_SAME_COUNT(Expect.LOAD), RESHAPE_OTHER_COUNT(Expect.REFUSE),
        DUPLICATE_OFFSETS(Expect.REFUSE), OVERLAP_OFFSETS(Expect.REFUSE), SWAP_EQUAL_OFFSETS(Expect.LOAD),
        INSERT_GAP(Expect.REFUSE), REMOVE_ENTRY(Expect.REFUSE), DUPLICATE_KEY(Expect.REFUSE),
        SPACE_PADDING(Expect.LOAD), OTHER_PADDING(Expect.REFUSE);

        final Expect expect;

        Mutation(Expect expect) {
            this.expect = expect;
        }
    }

    /** One tensor as the reference reading sees it. */
    private record Seen(String name, DType dtype, List<Long> shape, byte[] bytes) {
        boolean same(Seen o) {
            return name.equals(o.name) && dtype == o.dtype && shape.equals(o.shape) && Arrays.equals(bytes, o.bytes);
        }
    }

    @TempDir
    Path dir;

    private ObjectNode header;
    private byte[] data;
    private byte[] valid;

    @Test
    void everyMutationLoadsExactlyWhatTheFileSaysOrIsRefusedNamingTheFile() throws Exception {
        buildValidFile();
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Path file = dir.resolve("model.safetensors");
        Map<Mutation, int[]> byMutation = new EnumMap<>(Mutation.class); // [loaded, refused]
        Map<String, Integer> byReason = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        long[] worst = new long[2]; // [max allocated bytes over the allowance's base, max nanos]
        Random rnd = new Random(SEED);

        assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            Files.write(file, valid);
            assertThat(readAll(file)).isPresent(); // warm up the reader and Jackson before measuring
            assertThat(reference(valid)).isPresent();
            for (int i = 0; i < CASES; i++) {
                Mutation m = Mutation.values()[i % Mutation.values().length];
                byte[] bytes = mutate(m, rnd);
                Files.write(file, bytes);
                String label = "case " + i + " (" + m + ")";
                long alloc0 = mx.getCurrentThreadAllocatedBytes();
                long t0 = System.nanoTime();
                Optional<List<Seen>> loaded;
                try {
                    loaded = readAll(file);
                } catch (SafetensorsException e) {
                    loaded = null;
                    if (!e.getMessage().contains(file.toString())) {
                        failures.add(label + ": message does not name the file: " + e.getMessage());
                    }
                    byReason.merge(reason(e.getMessage()), 1, Integer::sum);
                    if (m.expect == Expect.LOAD) {
                        failures.add(label + ": a valid file was refused: " + e.getMessage());
                    }
                } catch (Throwable t) {
                    failures.add(label + ": threw " + t);
                    continue;
                }
                long nanos = System.nanoTime() - t0;
                long allocated = mx.getCurrentThreadAllocatedBytes() - alloc0;
                worst[0] = Math.max(worst[0], allocated);
                worst[1] = Math.max(worst[1], nanos);
                if (allocated > FIXED_ALLOWANCE + SIZE_FACTOR * (long) bytes.length) {
                    failures.add(label + ": allocated " + allocated + " bytes for a " + bytes.length + "-byte file");
                }
                if (nanos > CASE_LIMIT.toNanos()) {
                    failures.add(label + ": took " + nanos / 1_000_000 + " ms");
                }
                byMutation.computeIfAbsent(m, k -> new int[2])[loaded == null ? 1 : 0]++;
                if (loaded != null) {
                    if (m.expect == Expect.REFUSE) {
                        failures.add(label + ": a broken file loaded");
                    }
                    Optional<List<Seen>> expected = reference(bytes);
                    if (expected.isEmpty()) {
                        failures.add(label + ": loaded a file the format's rules refuse");
                    } else if (!sameTensors(loaded.get(), expected.get())) {
                        failures.add(label + ": loaded tensors differ from what the file says");
                    }
                }
            }
        });

        int accepted = byMutation.values().stream().mapToInt(c -> c[0]).sum();
        int refused = byMutation.values().stream().mapToInt(c -> c[1]).sum();
        System.out.printf("safetensors fuzz campaign: %d cases, %d loaded, %d refused; worst case %d bytes"
                + " allocated, %.1f ms%n", CASES, accepted, refused, worst[0], worst[1] / 1e6);
        byMutation.forEach((m, c) -> System.out.printf("  mutation %-22s loaded %3d, refused %3d%n", m, c[0], c[1]));
        byReason.forEach((r, n) -> System.out.printf("  refused: %-30s %4d%n", r, n));
        assertThat(failures).as("cases that broke the property").isEmpty();
        assertThat(accepted + refused).isEqualTo(CASES);
        assertThat(byReason).doesNotContainKey("other");
    }

    // ---- the valid file -------------------------------------------------------------------------------------------

    private void buildValidFile() {
        Random r = new Random(SEED ^ 0x5eed);
        header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        var parts = new ArrayList<byte[]>();
        long[] offset = {0};
        // name, dtype, shape; "a" and "ids" have the same byte length, for SWAP_EQUAL_OFFSETS
        Object[][] spec = {{"emb", DType.F32, new long[] {4, 6}}, {"a", DType.F32, new long[] {4}},
                {"ids", DType.I64, new long[] {2}}, {"half", DType.F16, new long[] {3}},
                {"empty", DType.F32, new long[] {0, 3}}, {"scale", DType.BF16, new long[] {2}},
                {"mask", DType.U8, new long[] {5}}, {"scalar", DType.F32, new long[] {}}};
        for (Object[] s : spec) {
            DType t = (DType) s[1];
            long[] shape = (long[]) s[2];
            int n = (int) (Arrays.stream(shape).reduce(1, Math::multiplyExact) * t.bytes());
            byte[] b = new byte[n];
            r.nextBytes(b);
            if (t == DType.F32) { // keep floats finite and ordinary
                ByteBuffer fb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n / 4; i++) {
                    fb.putFloat(i * 4, (float) r.nextGaussian());
                }
            }
            parts.add(b);
            ObjectNode e = header.putObject((String) s[0]);
            e.put("dtype", t.name());
            ArrayNode sh = e.putArray("shape");
            Arrays.stream(shape).forEach(sh::add);
            e.putArray("data_offsets").add(offset[0]).add(offset[0] + n);
            offset[0] += n;
        }
        ByteBuffer all = ByteBuffer.allocate((int) offset[0]);
        parts.forEach(all::put);
        data = all.array();
        valid = assemble(headerBytes(header, 8, ' '), data);
    }

    private static byte[] headerBytes(ObjectNode h, int align, char pad) {
        try {
            byte[] json = JSON.writeValueAsBytes(h);
            int padded = (json.length + align - 1) / align * align;
            byte[] out = Arrays.copyOf(json, padded);
            Arrays.fill(out, json.length, padded, (byte) pad);
            return out;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] assemble(byte[] headerBytes, byte[] data) {
        return ByteBuffer.allocate(8 + headerBytes.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(headerBytes.length).put(headerBytes).put(data).array();
    }

    private int headerLength() {
        return (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    // ---- mutations ------------------------------------------------------------------------------------------------

    private byte[] mutate(Mutation m, Random rnd) {
        byte[] b = valid.clone();
        int hl = headerLength();
        ObjectNode h = header.deepCopy();
        List<String> owning = new ArrayList<>(); // tensors that own at least one byte
        h.properties().forEach(e -> {
            if (!e.getKey().equals("__metadata__") && end(e.getValue()) > begin(e.getValue())) {
                owning.add(e.getKey());
            }
        });
        ObjectNode victim = (ObjectNode) h.get(owning.get(rnd.nextInt(owning.size())));
        switch (m) {
            case TRUNCATE -> {
                return Arrays.copyOf(b, rnd.nextInt(b.length));
            }
            case APPEND_BYTES -> {
                byte[] out = Arrays.copyOf(b, b.length + 1 + rnd.nextInt(64));
                for (int i = b.length; i < out.length; i++) {
                    out[i] = (byte) (rnd.nextBoolean() ? ' ' : rnd.nextInt(256));
                }
                return out;
            }
            case HEADER_LENGTH_PLUS_K, HEADER_LENGTH_MINUS_K -> {
                int k = 1 + rnd.nextInt(rnd.nextInt(4) == 0 ? 200 : 12);
                long n = m == Mutation.HEADER_LENGTH_PLUS_K ? hl + k : Math.max(0, hl - k);
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
                return b;
            }
            case FLIP_LENGTH_PREFIX -> {
                b[rnd.nextInt(8)] ^= (byte) (1 + rnd.nextInt(255));
                return b;
            }
            case FLIP_HEADER_BYTES -> {
                for (int i = 0, flips = 1 + rnd.nextInt(3); i < flips; i++) {
                    b[8 + rnd.nextInt(hl)] ^= (byte) (1 << rnd.nextInt(8));
                }
                return b;
            }
            case FLIP_DATA_BYTES -> {
                for (int i = 0, flips = 1 + rnd.nextInt(8); i < flips; i++) {
                    b[8 + hl + rnd.nextInt(data.length)] ^= (byte) (1 + rnd.nextInt(255));
                }
                return b;
            }
            case DTYPE_SAME_WIDTH, DTYPE_OTHER_WIDTH -> {
                DType t = DType.fromHeaderName(victim.get("dtype").asText()).orElseThrow();
                List<DType> pool = Arrays.stream(DType.values())
                        .filter(d -> d != t && (d.bytes() == t.bytes()) == (m == Mutation.DTYPE_SAME_WIDTH)).toList();
                victim.put("dtype", pool.get(rnd.nextInt(pool.size())).name());
            }
            case DTYPE_UNKNOWN -> {
                String[] bad = {"F33", "f32", "", "FLOAT", "I128", "F4", "F32 ", "U1", "bf16"};
                victim.put("dtype", bad[rnd.nextInt(bad.length)]);
            }
            case RESHAPE_SAME_COUNT -> {
                long count = count(victim);
                List<Long> dims = new ArrayList<>();
                for (long left = count; left > 1; ) { // a random factorisation, with random 1s
                    long d = 2;
                    while (left % d != 0) {
                        d++;
                    }
                    long f = rnd.nextBoolean() ? d : left;
                    dims.add(f);
                    left /= f;
                }
                for (int i = rnd.nextInt(3); i > 0; i--) {
                    dims.add(rnd.nextInt(dims.size() + 1), 1L);
                }
                ArrayNode sh = victim.putArray("shape");
                dims.forEach(sh::add);
            }
            case RESHAPE_OTHER_COUNT -> {
                long count = count(victim);
                ArrayNode sh = victim.putArray("shape");
                switch (rnd.nextInt(4)) {
                    case 0 -> sh.add(count + 1 + rnd.nextInt(100));
                    case 1 -> sh.add(count).add(0);
                    case 2 -> {
                        for (int i = 0, dims = 1 + rnd.nextInt(4); i < dims; i++) {
                            sh.add(1L << (20 + rnd.nextInt(43)));
                        }
                    }
                    default -> sh.add(Long.MAX_VALUE).add(2 + rnd.nextInt(5));
                }
            }
            case DUPLICATE_OFFSETS -> {
                ObjectNode other = (ObjectNode) h.get(otherThan(owning, victim, h, rnd));
                victim.set("dtype", other.get("dtype"));
                victim.set("shape", other.get("shape").deepCopy());
                victim.set("data_offsets", other.get("data_offsets").deepCopy());
            }
            case OVERLAP_OFFSETS -> {
                long len = end(victim) - begin(victim);
                long shift = (1 + rnd.nextInt((int) Math.min(len, 8))) * (rnd.nextBoolean() ? 1 : -1);
                long nb = Math.max(0, Math.min(data.length - len, begin(victim) + shift));
                if (nb == begin(victim)) {
                    nb = begin(victim) > 0 ? begin(victim) - 1 : 1;
                }
                victim.putArray("data_offsets").add(nb).add(nb + len);
            }
            case SWAP_EQUAL_OFFSETS -> {
                JsonNode a = h.get("a").get("data_offsets");
                ((ObjectNode) h.get("a")).set("data_offsets", h.get("ids").get("data_offsets"));
                ((ObjectNode) h.get("ids")).set("data_offsets", a);
            }
            case INSERT_GAP -> {
                long at = begin(victim);
                int k = 1 + rnd.nextInt(16);
                for (String name : owning) {
                    ObjectNode e = (ObjectNode) h.get(name);
                    long b0 = begin(e);
                    long e0 = end(e);
                    if (b0 >= at) {
                        e.putArray("data_offsets").add(b0 + k).add(e0 + k);
                    }
                }
                // empty tensors after the gap move with it, so only the gap breaks the rule
                h.properties().forEach(e -> {
                    if (!owning.contains(e.getKey()) && e.getValue().has("data_offsets") && begin(e.getValue()) > at) {
                        long b0 = begin(e.getValue());
                        ((ObjectNode) e.getValue()).putArray("data_offsets").add(b0 + k).add(b0 + k);
                    }
                });
                byte[] gapped = new byte[data.length + k];
                System.arraycopy(data, 0, gapped, 0, (int) at);
                System.arraycopy(data, (int) at, gapped, (int) at + k, data.length - (int) at);
                return assemble(headerBytes(h, 8, ' '), gapped);
            }
            case REMOVE_ENTRY -> h.remove(owning.get(rnd.nextInt(owning.size())));
            case DUPLICATE_KEY -> {
                String json = new String(headerBytes(h, 1, ' '), StandardCharsets.UTF_8);
                String name = owning.get(rnd.nextInt(owning.size()));
                String dup = ",\"" + name + "\":" + h.get(name);
                String text = json.substring(0, json.length() - 1) + dup + "}";
                return assemble(text.getBytes(StandardCharsets.UTF_8), data);
            }
            case SPACE_PADDING -> {
                return assemble(headerBytes(h, 1 + rnd.nextInt(64), ' '), data);
            }
            case OTHER_PADDING -> {
                byte[] json = headerBytes(h, 1, ' ');
                int pad = 1 + rnd.nextInt(16);
                byte[] out = Arrays.copyOf(json, json.length + pad);
                Arrays.fill(out, json.length, out.length, (byte) ' ');
                byte[] odd = {'\n', '\t', '\r', 0, 'x', '}', (byte) 0xc3};
                out[json.length + rnd.nextInt(pad)] = odd[rnd.nextInt(odd.length)];
                if (rnd.nextInt(4) == 0) { // or whitespace before the object
                    byte[] lead = new byte[out.length + 1];
                    lead[0] = (byte) " \n\t".charAt(rnd.nextInt(3));
                    System.arraycopy(json, 0, lead, 1, json.length);
                    Arrays.fill(lead, json.length + 1, lead.length, (byte) ' ');
                    out = lead;
                }
                return assemble(out, data);
            }
            default -> throw new IllegalStateException(m.toString());
        }
        return assemble(headerBytes(h, 8, ' '), data);
    }

    private static String otherThan(List<String> names, ObjectNode victim, ObjectNode h, Random rnd) {
        List<String> others = names.stream().filter(n -> h.get(n) != victim).toList();
        return others.get(rnd.nextInt(others.size()));
    }

    private static long begin(JsonNode e) {
        return e.get("data_offsets").get(0).asLong();
    }

    private static long end(JsonNode e) {
        return e.get("data_offsets").get(1).asLong();
    }

    private static long count(JsonNode e) {
        long n = 1;
        for (JsonNode d : e.get("shape")) {
            n *= d.asLong();
        }
        return n;
    }

    // ---- reading, and the reference reading -----------------------------------------------------------------------

    /** Opens {@code file} and reads every tensor in full, through the typed readers where the dtype has one. */
    private static Optional<List<Seen>> readAll(Path file) throws SafetensorsException {
        try (var f = SafetensorsFile.open(file)) {
            List<Seen> out = new ArrayList<>();
            for (String name : f.names()) {
                TensorInfo t = f.info(name);
                long n = switch (t.dtype()) {
                    case F32, F16, BF16, F64 -> f.readFloats(name).length;
                    case I64, I32, U32, I16, U16, I8, U8 -> f.readLongs(name).length;
                    default -> f.bytes(name).byteSize() / t.dtype().bytes();
                };
                if (n != t.elementCount()) {
                    throw new AssertionError(name + ": read " + n + " elements, the header says " + t.elementCount());
                }
                out.add(new Seen(name, t.dtype(), Arrays.stream(t.shape()).boxed().toList(),
                        f.bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
            }
            return Optional.of(out);
        }
    }

    /**
     * The format's rules applied independently of the reader: what a correct reader loads from {@code b}, or empty
     * when a rule is broken.
     */
    private static Optional<List<Seen>> reference(byte[] b) {
        if (b.length < 8) {
            return Optional.empty();
        }
        long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n < 0 || n > b.length - 8) {
            return Optional.empty();
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, 8, (int) n)).toString();
        } catch (Exception e) {
            return Optional.empty();
        }
        String trimmed = text.replaceAll(" +$", "");
        if (!text.startsWith("{") || !trimmed.endsWith("}")) {
            return Optional.empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (Exception e) {
            return Optional.empty();
        }
        if (root == null || !root.isObject()) {
            return Optional.empty();
        }
        long dataStart = 8 + n;
        long dataSize = b.length - dataStart;
        Map<String, long[]> ranges = new LinkedHashMap<>();
        List<Seen> out = new ArrayList<>();
        for (var e : root.properties()) {
            JsonNode v = e.getValue();
            if (e.getKey().equals("__metadata__")) {
                if (!v.isObject()) {
                    return Optional.empty();
                }
                for (var m : v.properties()) {
                    if (!m.getValue().isTextual()) {
                        return Optional.empty();
                    }
                }
                continue;
            }
            if (!v.isObject() || !v.path("dtype").isTextual() || !v.path("shape").isArray()
                    || !v.path("data_offsets").isArray() || v.get("data_offsets").size() != 2) {
                return Optional.empty();
            }
            Optional<DType> dtype = DType.fromHeaderName(v.get("dtype").textValue());
            if (dtype.isEmpty()) {
                return Optional.empty();
            }
            List<Long> shape = new ArrayList<>();
            java.math.BigInteger bytes = java.math.BigInteger.valueOf(dtype.get().bytes());
            for (JsonNode d : v.get("shape")) {
                if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                    return Optional.empty();
                }
                shape.add(d.longValue());
                bytes = bytes.multiply(java.math.BigInteger.valueOf(d.longValue()));
            }
            long[] range = new long[2];
            for (int i = 0; i < 2; i++) {
                JsonNode o = v.get("data_offsets").get(i);
                if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                    return Optional.empty();
                }
                range[i] = o.longValue();
            }
            if (range[1] < range[0] || range[1] > dataSize
                    || !bytes.equals(java.math.BigInteger.valueOf(range[1] - range[0]))) {
                return Optional.empty();
            }
            ranges.put(e.getKey(), range);
            out.add(new Seen(e.getKey(), dtype.get(), List.copyOf(shape),
                    Arrays.copyOfRange(b, (int) (dataStart + range[0]), (int) (dataStart + range[1]))));
        }
        long covered = 0;
        for (long[] r : ranges.values().stream().sorted(Comparator.<long[]>comparingLong(r -> r[0])
                .thenComparingLong(r -> r[1])).toList()) {
            if (r[0] != covered) {
                return Optional.empty();
            }
            covered = r[1];
        }
        return covered == dataSize ? Optional.of(out) : Optional.empty();
    }

    private static boolean sameTensors(List<Seen> a, List<Seen> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!a.get(i).same(b.get(i))) {
                return false;
            }
        }
        return true;
    }

    /** The rule a refusal names, for the campaign's counts. */
    private static String reason(String message) {
        String[][] classes = {
                {"expected at least 8 bytes", "file shorter than 8 bytes"},
                {"header length", "header length out of range"},
                {"UTF-8", "header not UTF-8"},
                {"not valid JSON", "header not JSON"},
                {"begin at its first byte", "content before the JSON"},
                {"as padding", "padding other than spaces"},
                {"to be a JSON object", "header not an object"},
                {"__metadata__", "metadata"},
                {"dtype", "dtype"},
                {"overflows", "shape overflows"},
                {"needs", "shape vs byte length"},
                {"shape", "shape"},
                {"run past", "offsets past the data"},
                {"overlap", "overlapping offsets"},
                {"a gap", "gap between tensors"},
                {"unindexed", "unindexed bytes"},
                {"data_offsets", "offsets"}};
        for (String[] c : classes) {
            if (message.contains(c[0])) {
                return c[1];
            }
        }
        return "other";
    }
}
