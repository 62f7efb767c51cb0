package org.ssmpeft.runtime.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.io.AtomicFiles;

/**
 * Collects F32 and I64 tensors and writes them as one safetensors file, atomically (temp file in the same
 * directory, fsync, rename): a crash never leaves a half-written file behind.
 *
 * <p>Layout as Hugging Face's writer makes it: the JSON header is padded with spaces to a multiple of 8 bytes, and
 * tensors are laid out widest dtype first (stable otherwise), so every tensor starts naturally aligned.
 *
 * <pre>{@code
 * new SafetensorsWriter().metadata("format", "pt").putF32("w", data, 4, 8).write(path);
 * }</pre>
 */
public final class SafetensorsWriter {

    private record Pending(String name, DType dtype, long[] shape, float[] f32, long[] i64) {
        long bytes() {
            return (long) (f32 != null ? f32.length : i64.length) * dtype.bytes();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Pending> tensors = new LinkedHashMap<>();

    /** Adds a {@code __metadata__} entry (Hugging Face writes {@code "format": "pt"}). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a float32 tensor; {@code data} is row-major and is not copied (do not change it before writing). */
    public SafetensorsWriter putF32(String name, float[] data, long... shape) {
        return put(new Pending(name, DType.F32, shape.clone(), data, null), data.length);
    }

    /** Adds an int64 tensor; {@code data} is row-major and is not copied. */
    public SafetensorsWriter putI64(String name, long[] data, long... shape) {
        return put(new Pending(name, DType.I64, shape.clone(), null, data), data.length);
    }

    private SafetensorsWriter put(Pending p, int length) {
        if (p.name().equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("tensor name '" + SafetensorsFile.METADATA_KEY + "' is reserved");
        }
        if (tensors.containsKey(p.name())) {
            throw new IllegalArgumentException("tensor '" + p.name() + "' is already added");
        }
        long n = 1;
        for (long d : p.shape()) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + p.name() + "': negative dimension in shape "
                        + Arrays.toString(p.shape()));
            }
            n = Math.multiplyExact(n, d);
        }
        if (n != length) {
            throw new IllegalArgumentException("tensor '" + p.name() + "': shape " + Arrays.toString(p.shape())
                    + " has " + n + " elements but the data has " + length);
        }
        tensors.put(p.name(), p);
        return this;
    }

    /** Writes the file, replacing {@code target} atomically. */
    public void write(Path target) throws SafetensorsException {
        List<Pending> order = new ArrayList<>(tensors.values());
        order.sort(Comparator.comparingInt((Pending p) -> -p.dtype().bytes()));
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Pending p : order) {
            ObjectNode e = header.putObject(p.name());
            e.put("dtype", p.dtype().name());
            var shape = e.putArray("shape");
            for (long d : p.shape()) {
                shape.add(d);
            }
            var offsets = e.putArray("data_offsets");
            offsets.add(offset);
            offset += p.bytes();
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new SafetensorsException("safetensors file " + target + ": cannot encode the header: " + e, e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
        try {
            AtomicFiles.write(target, ch -> {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length);
                writeFully(ch, prefix.flip());
                writeFully(ch, ByteBuffer.wrap(headerBytes));
                ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (Pending p : order) {
                    if (p.f32() != null) {
                        writeFloats(ch, buf, p.f32());
                    } else {
                        writeLongs(ch, buf, p.i64());
                    }
                }
            });
        } catch (SafetensorsException e) {
            throw e;
        } catch (IOException e) {
            throw new SafetensorsException("safetensors file " + target + ": write failed: " + e, e);
        }
    }

    private static void writeFloats(FileChannel ch, ByteBuffer buf, float[] a) throws IOException {
        int perChunk = buf.capacity() / Float.BYTES;
        for (int i = 0; i < a.length; i += perChunk) {
            int n = Math.min(perChunk, a.length - i);
            buf.clear();
            buf.asFloatBuffer().put(a, i, n);
            buf.limit(n * Float.BYTES);
            writeFully(ch, buf);
        }
    }

    private static void writeLongs(FileChannel ch, ByteBuffer buf, long[] a) throws IOException {
        int perChunk = buf.capacity() / Long.BYTES;
        for (int i = 0; i < a.length; i += perChunk) {
            int n = Math.min(perChunk, a.length - i);
            buf.clear();
            buf.asLongBuffer().put(a, i, n);
            buf.limit(n * Long.BYTES);
            writeFully(ch, buf);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
