package org.ssmpeft.api.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import com.fasterxml.jackson.dataformat.yaml.snakeyaml.error.MarkedYAMLException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one strict reader of the project's JSON and YAML files (adapter configs, {@code adapter_config.json}, a
 * model's {@code config.json}, run configs, checkpoint indexes and states).
 *
 * <p>A file must be UTF-8 text holding exactly one value: duplicate keys, content after the value (a second JSON
 * value, stray text, a second YAML document after {@code ---}) and YAML aliases (which Jackson would read as the
 * anchor's name) are refused, each with a message that says where and what was found. Messages name no file;
 * callers put the file in front.
 */
public final class ConfigFiles {

    /** Bounds shared by every config mapper: configs are small and shallow. */
    static final StreamReadConstraints CONSTRAINTS = StreamReadConstraints.builder()
            .maxNestingDepth(64).maxStringLength(1 << 20).maxNumberLength(64).build();

    private static final ObjectMapper JSON = json();
    private static final ObjectMapper YAML = yaml();
    private static final Pattern DOCUMENT_START = Pattern.compile("(?m)^---(?=\\s|$)");

    private ConfigFiles() {
    }

    /** A file's text is not one well-formed value; the message says where and what (not which file). */
    public static final class SyntaxException extends Exception {

        private static final long serialVersionUID = 1L;

        public SyntaxException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A builder of a strict JSON mapper: duplicate keys and trailing tokens fail, the shared size bounds hold. */
    public static JsonMapper.Builder jsonBuilder() {
        return JsonMapper.builder(JsonFactory.builder().streamReadConstraints(CONSTRAINTS).build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(SerializationFeature.INDENT_OUTPUT);
    }

    /** A new strict JSON mapper (writes indented). */
    public static ObjectMapper json() {
        return jsonBuilder().build();
    }

    /** A new strict YAML mapper (writes without a {@code ---} marker, quotes only where needed). */
    public static ObjectMapper yaml() {
        YAMLFactory f = YAMLFactory.builder()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .streamReadConstraints(CONSTRAINTS)
                .build();
        return YAMLMapper.builder(f)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(SerializationFeature.INDENT_OUTPUT)
                .build();
    }

    /**
     * The text of {@code file}, decoded as UTF-8 with every malformed byte refused (a leading byte-order mark is
     * dropped).
     *
     * @throws SyntaxException when the bytes are not UTF-8, naming the first bad byte's offset and line
     * @throws IOException     when the file cannot be read
     */
    public static String readText(Path file) throws IOException, SyntaxException {
        requireRegularFile(file);
        return decode(Files.readAllBytes(file));
    }

    /**
     * Refuses what is not a regular file before it is opened: reading a named pipe (or a device) would block until
     * some writer appears, i.e. hang; a folder would fail with a bare "Is a directory".
     *
     * @throws IOException naming the path and what it is ({@link java.nio.file.NoSuchFileException} when missing)
     */
    public static void requireRegularFile(Path file) throws IOException {
        if (Files.isRegularFile(file)) {
            return;
        }
        if (!Files.exists(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "does not exist; expected a file");
        }
        String what = Files.isDirectory(file) ? "is a folder"
                : "is not a regular file (a named pipe, socket or device; reading it could block forever)";
        throw new IOException(file + " " + what + "; expected a file");
    }

    /** {@code bytes} as UTF-8 text, strictly; see {@link #readText}. */
    public static String decode(byte[] bytes) throws SyntaxException {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = d.decode(in, out, true);
        if (!r.isError()) {
            r = d.flush(out);
        }
        if (r.isError()) {
            int at = in.position();
            int line = 1;
            for (int i = 0; i < at; i++) {
                if (bytes[i] == '\n') {
                    line++;
                }
            }
            throw new SyntaxException(String.format("not UTF-8 text: byte 0x%02X at offset %d (line %d) is not"
                    + " valid UTF-8; a config file must be saved as UTF-8", bytes[at] & 0xFF, at, line), null);
        }
        out.flip();
        String s = out.toString();
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    /** {@link #readText} then {@link #parse} in the format of the file's extension ({@link ConfigFormat#of}). */
    public static JsonNode read(Path file) throws IOException, SyntaxException {
        return parse(readText(file), ConfigFormat.of(file));
    }

    /**
     * The one value of {@code text}; {@link MissingNode} when the text holds none (empty, only whitespace or
     * comments).
     *
     * @throws SyntaxException when the text is not valid {@code format}, or holds more than one value or document
     */
    public static JsonNode parse(String text, ConfigFormat format) throws SyntaxException {
        ObjectMapper m = format == ConfigFormat.YAML ? YAML : JSON;
        JsonNode root;
        try (JsonParser p = m.createParser(text)) {
            // the mapper's own trailing-token check would fire inside readTree with a generic message
            root = m.readerFor(JsonNode.class).without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(p);
            if (root == null || root.isMissingNode()) {
                return MissingNode.getInstance();
            }
            JsonLocation end = p.currentLocation();
            JsonToken next;
            try {
                next = p.nextToken();
            } catch (JacksonException e) {
                throw trailing(text, format, (int) end.getCharOffset(), e);
            }
            if (next != null) {
                if (format == ConfigFormat.YAML) {
                    Matcher doc = DOCUMENT_START.matcher(text);
                    int from = (int) Math.max(0, end.getCharOffset());
                    int at = doc.find(from) ? doc.start() : (int) p.currentTokenLocation().getCharOffset();
                    throw new SyntaxException("a second YAML document at line " + line(text, at)
                            + " (" + quote(snippet(text, at)) + "); a config file holds one document", null);
                }
                throw trailing(text, format, (int) end.getCharOffset(), null);
            }
        } catch (SyntaxException e) {
            throw e;
        } catch (MarkedYAMLException e) {
            throw new SyntaxException(yamlProblem(e), e);
        } catch (JacksonException e) {
            JsonLocation loc = e.getLocation();
            throw new SyntaxException("not valid " + format + (loc == null || loc.getLineNr() < 1 ? ""
                    : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr()) + ": "
                    + firstLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new SyntaxException("not valid " + format + ": " + e.getMessage(), e);
        }
        if (format == ConfigFormat.YAML) {
            refuseAliases(text);
        }
        return root;
    }

    /** Jackson reads an alias ({@code *name}) as the string "name": refused rather than silently wrong. */
    private static void refuseAliases(String text) throws SyntaxException {
        try (JsonParser p = YAML.createParser(text)) {
            YAMLParser y = (YAMLParser) p;
            while (p.nextToken() != null) {
                if (y.isCurrentAlias()) {
                    JsonLocation loc = p.currentTokenLocation();
                    throw new SyntaxException("YAML alias *" + p.getText() + " at line " + loc.getLineNr()
                            + ", column " + loc.getColumnNr() + " is not supported; write the value out", null);
                }
            }
        } catch (IOException e) {
            throw new SyntaxException("not valid YAML: " + e.getMessage(), e);
        }
    }

    private static SyntaxException trailing(String text, ConfigFormat format, int endOffset, Throwable cause) {
        int at = Math.max(0, Math.min(endOffset, text.length()));
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
        return new SyntaxException("content after the " + format + " value at line " + line(text, at) + ", column "
                + column(text, at) + ": found " + quote(snippet(text, at)) + "; a config file holds one "
                + (format == ConfigFormat.YAML ? "document" : "value"), cause);
    }

    private static String yamlProblem(MarkedYAMLException e) {
        var mark = e.getProblemMark();
        String problem = e.getProblem() == null ? firstLine(e.getOriginalMessage()) : e.getProblem();
        String where = mark == null ? "" : " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
        String context = "";
        var cm = e.getContextMark();
        if (e.getContext() != null && cm != null) {
            context = " (" + e.getContext() + " at line " + (cm.getLine() + 1) + ", column " + (cm.getColumn() + 1)
                    + ")";
        }
        return "not valid YAML" + where + ": " + problem + context;
    }

    private static int line(String text, int offset) {
        int line = 1;
        for (int i = 0; i < offset && i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    private static int column(String text, int offset) {
        int nl = text.lastIndexOf('\n', offset - 1);
        return offset - nl;
    }

    private static String snippet(String text, int at) {
        int end = at;
        while (end < text.length() && text.charAt(end) != '\n' && text.charAt(end) != '\r' && end - at < 40) {
            end++;
        }
        return text.substring(at, end) + (end - at >= 40 ? "..." : "");
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
