package org.ssmpeft.runtime.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors file opened for reading: {@code u64 little-endian header length n}, {@code n} bytes of UTF-8 JSON,
 * then the raw little-endian tensor data. The file is memory-mapped; tensors are copied out on request.
 *
 * <p>Nothing in the header is trusted before it is checked: the header length against a cap and the file size, the
 * JSON (an object that begins at the header's first byte, no duplicate keys, nothing after it but the spaces the
 * format allows as padding), and for every tensor its dtype, shape and offsets (shape product × element size = byte
 * length, with overflow checks; offsets inside the data section). As in Hugging Face's reader, the tensors must cover
 * the data section exactly: sorted by offset, the first begins at byte 0, each begins where the previous one ends (no
 * gap, no overlap) and the last ends at the end of the file. So a header length that is a few bytes off, which leaves
 * the JSON parseable but shifts every tensor, is refused instead of loading wrong weights. Any failure is a
 * {@link SafetensorsException} naming the file, the tensor and the rule.
 *
 * <p>{@link #readFiniteFloats} also refuses NaN and ±Inf, for loaders of weights (see {@link FiniteValues}).
 *
 * <p>Thread-safe for concurrent reads; {@link #close()} unmaps the file, after which reads fail.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Largest header accepted, in bytes (Hugging Face's reader uses the same 100 MB cap). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates {@code file}. */
    public static SafetensorsFile open(Path file) throws SafetensorsException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment whole;
            if (java.nio.file.Files.exists(file) && !java.nio.file.Files.isRegularFile(file)) {
                // a named pipe would block the open until a writer appears: refuse it instead of hanging
                throw SafetensorsException.inFile(file, "expected a regular file, found "
                        + (java.nio.file.Files.isDirectory(file) ? "a folder" : "a named pipe, socket or device"));
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            long size = whole.byteSize();
            if (size < 8) {
                throw SafetensorsException.inFile(file, "expected at least 8 bytes (the u64 header length), found a "
                        + size + "-byte file");
            }
            long headerLength = whole.get(I64_LE, 0);
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
                throw SafetensorsException.inFile(file, "header length " + Long.toUnsignedString(headerLength)
                        + " exceeds the cap of " + MAX_HEADER_BYTES + " bytes");
            }
            if (headerLength > size - 8) {
                throw SafetensorsException.inFile(file, "header length " + headerLength + " runs past the end of the"
                        + " file: expected at most " + (size - 8) + " (file size " + size + " minus 8)");
            }
            byte[] header = whole.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = whole.asSlice(8 + headerLength);
            var parsed = new HeaderParser(file, data.byteSize()).parse(header);
            return new SafetensorsFile(file, arena, data, parsed.tensors, parsed.metadata);
        } catch (SafetensorsException e) {
            arena.close();
            throw e;
        } catch (NoSuchFileException e) {
            arena.close();
            throw SafetensorsException.inFile(file, "no such file");
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw new SafetensorsException("safetensors file " + file + ": cannot be read: " + e, e);
        }
    }

    public Path path() {
        return path;
    }

    /** The {@code __metadata__} entries (empty when the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public Optional<TensorInfo> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The header entry of {@code name}; fails naming the tensors the file does have. */
    public TensorInfo info(String name) throws SafetensorsException {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw SafetensorsException.inTensor(path, name, "no such tensor; the file has " + tensors.size()
                    + " tensors: " + abbreviate(tensors.keySet()));
        }
        return t;
    }

    /** The raw bytes of one tensor, a read-only view into the mapped file (valid until {@link #close()}). */
    public MemorySegment bytes(String name) throws SafetensorsException {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteLength());
    }

    /** A tensor of dtype F32, F16, BF16 or F64 as float32, row-major. */
    public float[] readFloats(String name) throws SafetensorsException {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        MemorySegment s = data.asSlice(t.begin(), t.byteLength());
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, F32_LE, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(s.getAtIndex(I16_LE, i));
                }
            }
            case BF16 -> {
                // bf16 is the upper half of a float32
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((s.getAtIndex(I16_LE, i) & 0xffff) << 16);
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) s.getAtIndex(F64_LE, i);
                }
            }
            default -> throw SafetensorsException.inTensor(path, name, "expected a floating-point dtype (F32, F16,"
                    + " BF16, F64) to read as float32, found " + t.dtype());
        }
        return out;
    }

    /**
     * {@link #readFloats}, refusing a tensor that holds NaN or ±Inf (after conversion to float32, so an F64 value
     * beyond float32's range counts as infinite): what loaders of weights use, so that a broken file is reported as
     * such instead of as a NaN loss at the first step. One extra pass over the floats.
     */
    public float[] readFiniteFloats(String name) throws SafetensorsException {
        float[] values = readFloats(name);
        FiniteValues.check(path, info(name), values);
        return values;
    }

    /** A tensor of dtype I64 or I32 (also I16, I8, U8, U16, U32) as long. */
    public long[] readLongs(String name) throws SafetensorsException {
        TensorInfo t = info(name);
        int n = arrayLength(t);
        MemorySegment s = data.asSlice(t.begin(), t.byteLength());
        long[] out = new long[n];
        switch (t.dtype()) {
            case I64 -> MemorySegment.copy(s, I64_LE, 0, out, 0, n);
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.getAtIndex(I32_LE, i);
                }
            }
            case U32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Integer.toUnsignedLong(s.getAtIndex(I32_LE, i));
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.getAtIndex(I16_LE, i);
                }
            }
            case U16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.getAtIndex(I16_LE, i) & 0xffff;
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.get(ValueLayout.JAVA_BYTE, i);
                }
            }
            case U8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = s.get(ValueLayout.JAVA_BYTE, i) & 0xff;
                }
            }
            default -> throw SafetensorsException.inTensor(path, name, "expected an integer dtype (I64, I32, U32,"
                    + " I16, U16, I8, U8) to read as long, found " + t.dtype());
        }
        return out;
    }

    /** An integer tensor as int; fails if a value does not fit (e.g. an I64 above 2^31 - 1). */
    public int[] readInts(String name) throws SafetensorsException {
        long[] wide = readLongs(name);
        int[] out = new int[wide.length];
        for (int i = 0; i < wide.length; i++) {
            if (wide[i] != (int) wide[i]) {
                throw SafetensorsException.inTensor(path, name, "element " + i + " = " + wide[i]
                        + " does not fit in an int");
            }
            out[i] = (int) wide[i];
        }
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }

    private int arrayLength(TensorInfo t) throws SafetensorsException {
        long n = t.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw SafetensorsException.inTensor(path, t.name(), "has " + n + " elements; expected at most "
                    + (Integer.MAX_VALUE - 8) + " to fit in one Java array");
        }
        return (int) n;
    }

    private static String abbreviate(java.util.Collection<String> names) {
        var list = new ArrayList<>(names);
        return list.size() <= 20 ? String.join(", ", list)
                : String.join(", ", list.subList(0, 20)) + ", ... (" + (list.size() - 20) + " more)";
    }

    /** Checks a header and turns it into validated entries. */
    private static final class HeaderParser {
        private final Path file;
        private final long dataSize;
        final Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();

        HeaderParser(Path file, long dataSize) {
            this.file = file;
            this.dataSize = dataSize;
        }

        HeaderParser parse(byte[] header) throws SafetensorsException {
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(header)).toString();
            } catch (CharacterCodingException e) {
                throw SafetensorsException.inFile(file, "expected a UTF-8 JSON header, found invalid UTF-8 (" + e
                        + ")");
            }
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JacksonException e) {
                throw SafetensorsException.inFile(file, "header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) {
                throw SafetensorsException.inFile(file, "expected the header to be a JSON object, found "
                        + (root == null || root.isMissingNode() ? "nothing" : root.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)));
            }
            checkFraming(header, text);
            for (var field : root.properties()) {
                String name = field.getKey();
                if (name.equals(METADATA_KEY)) {
                    metadata = parseMetadata(field.getValue());
                } else {
                    tensors.put(name, parseEntry(name, field.getValue()));
                }
            }
            checkContiguous();
            return this;
        }

        private Map<String, String> parseMetadata(JsonNode node) throws SafetensorsException {
            if (!node.isObject()) {
                throw SafetensorsException.inFile(file, "expected " + METADATA_KEY + " to be an object of strings,"
                        + " found " + node.getNodeType());
            }
            var out = new LinkedHashMap<String, String>();
            for (var e : node.properties()) {
                if (!e.getValue().isTextual()) {
                    throw SafetensorsException.inFile(file, "expected " + METADATA_KEY + "." + e.getKey()
                            + " to be a string, found " + e.getValue().getNodeType());
                }
                out.put(e.getKey(), e.getValue().textValue());
            }
            return Collections.unmodifiableMap(out);
        }

        private TensorInfo parseEntry(String name, JsonNode node) throws SafetensorsException {
            if (!node.isObject()) {
                throw SafetensorsException.inTensor(file, name, "expected an object with dtype, shape and"
                        + " data_offsets, found " + node.getNodeType());
            }
            JsonNode dtypeNode = node.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw SafetensorsException.inTensor(file, name, "expected 'dtype' to be a string, found "
                        + describe(dtypeNode));
            }
            DType dtype = DType.fromHeaderName(dtypeNode.textValue()).orElseThrow(() ->
                    SafetensorsException.inTensor(file, name, "unknown dtype '" + dtypeNode.textValue()
                            + "'; expected one of " + DType.knownNames()));
            JsonNode shapeNode = node.get("shape");
            if (shapeNode == null || !shapeNode.isArray()) {
                throw SafetensorsException.inTensor(file, name, "expected 'shape' to be an array of non-negative"
                        + " integers, found " + describe(shapeNode));
            }
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = nonNegativeLong(name, "shape[" + i + "]", shapeNode.get(i));
            }
            JsonNode offsetsNode = node.get("data_offsets");
            if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
                throw SafetensorsException.inTensor(file, name, "expected 'data_offsets' to be an array [begin, end]"
                        + " of two non-negative integers, found " + describe(offsetsNode));
            }
            long begin = nonNegativeLong(name, "data_offsets[0]", offsetsNode.get(0));
            long end = nonNegativeLong(name, "data_offsets[1]", offsetsNode.get(1));
            if (end < begin) {
                throw SafetensorsException.inTensor(file, name, "data_offsets [" + begin + ", " + end
                        + "]: expected begin <= end");
            }
            long bytes;
            try {
                long elements = 1;
                for (long d : shape) {
                    elements = Math.multiplyExact(elements, d);
                }
                bytes = Math.multiplyExact(elements, (long) dtype.bytes());
            } catch (ArithmeticException e) {
                throw SafetensorsException.inTensor(file, name, "shape " + java.util.Arrays.toString(shape) + " of "
                        + dtype + " overflows a 64-bit byte count");
            }
            if (bytes != end - begin) {
                throw SafetensorsException.inTensor(file, name, "shape " + java.util.Arrays.toString(shape) + " of "
                        + dtype + " needs " + bytes + " bytes, but data_offsets [" + begin + ", " + end + "] span "
                        + (end - begin));
            }
            if (end > dataSize) {
                throw SafetensorsException.inTensor(file, name, "data_offsets [" + begin + ", " + end + "] run past"
                        + " the data section: expected end <= " + dataSize);
            }
            return new TensorInfo(name, dtype, shape, begin, end);
        }

        private long nonNegativeLong(String tensor, String what, JsonNode n) throws SafetensorsException {
            if (n == null || !n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0) {
                throw SafetensorsException.inTensor(file, tensor, "expected " + what + " to be a non-negative"
                        + " 64-bit integer, found " + describe(n));
            }
            return n.longValue();
        }

        /**
         * The header's JSON object must begin at its first byte and be followed only by space padding (0x20), as the
         * format says; Jackson has already refused any other trailing token, so what is left to check is whitespace
         * that is not a space (a newline, a tab), and whitespace before the object.
         */
        private void checkFraming(byte[] header, String text) throws SafetensorsException {
            if (text.charAt(0) != '{') {
                throw SafetensorsException.inFile(file, "expected the header's JSON object to begin at its first byte"
                        + " ('{'), found byte 0x" + hex(header[0]) + " before it; only space padding after the"
                        + " object is allowed");
            }
            int close = text.lastIndexOf('}');
            for (int i = close + 1; i < text.length(); i++) {
                if (text.charAt(i) != ' ') {
                    // everything after the closing brace is ASCII whitespace, one byte per char
                    int at = header.length - (text.length() - i);
                    int count = text.length() - close - 1 - (int) text.substring(close + 1).chars()
                            .filter(ch -> ch == ' ').count();
                    throw SafetensorsException.inFile(file, "header byte " + at + " is 0x" + hex(header[at])
                            + " after the JSON object (" + count + " such byte" + (count == 1 ? "" : "s") + "); the"
                            + " format allows only spaces (0x20) as padding between the JSON and the data section");
                }
            }
        }

        private static String hex(byte b) {
            return String.format("%02x", b & 0xff);
        }

        /**
         * Hugging Face's rule: sorted by (begin, end), the tensors tile the data section, from byte 0 to its end, with
         * no gap and no overlap. Empty tensors too must sit where the previous tensor ends.
         */
        private void checkContiguous() throws SafetensorsException {
            var sorted = tensors.values().stream().sorted(Comparator.comparingLong(TensorInfo::begin)
                    .thenComparingLong(TensorInfo::end)).toList();
            TensorInfo prev = null;
            long covered = 0;
            for (TensorInfo cur : sorted) {
                if (cur.begin() < covered) {
                    throw SafetensorsException.inTensor(file, cur.name(), "data_offsets [" + cur.begin() + ", "
                            + cur.end() + "] overlap those of '" + prev.name() + "' [" + prev.begin() + ", "
                            + prev.end() + "]; expected disjoint byte ranges");
                }
                if (cur.begin() > covered) {
                    long gap = cur.begin() - covered;
                    throw SafetensorsException.inTensor(file, cur.name(), prev == null
                            ? "data_offsets [" + cur.begin() + ", " + cur.end() + "]: the first tensor starts at byte "
                              + cur.begin() + " of the data section, leaving " + bytes(gap) + " unindexed before it"
                              + " (safetensors data must be contiguous, starting at byte 0)"
                            : "data_offsets [" + cur.begin() + ", " + cur.end() + "]: starts at byte " + cur.begin()
                              + " of the data section but the previous tensor '" + prev.name() + "' ends at "
                              + prev.end() + " (a gap of " + bytes(gap) + ": safetensors data must be contiguous)");
                }
                prev = cur;
                covered = cur.end();
            }
            if (covered < dataSize) {
                long extra = dataSize - covered;
                if (prev == null) {
                    throw SafetensorsException.inFile(file, "the header declares no tensors, but " + bytes(extra)
                            + " of data follow it (unindexed bytes: the header length may be wrong)");
                }
                throw SafetensorsException.inTensor(file, prev.name(), bytes(extra) + " unindexed after the last"
                        + " tensor: it ends at byte " + covered + " of the data section, which is " + dataSize
                        + " bytes long (safetensors data must be covered exactly; the header length may be wrong,"
                        + " or the file has trailing bytes)");
            }
        }

        private static String bytes(long n) {
            return n + (n == 1 ? " byte" : " bytes");
        }

        private static String describe(JsonNode n) {
            if (n == null) {
                return "nothing (key missing)";
            }
            String s = n.toString();
            return n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " "
                    + (s.length() > 60 ? s.substring(0, 60) + "..." : s);
        }
    }
}
