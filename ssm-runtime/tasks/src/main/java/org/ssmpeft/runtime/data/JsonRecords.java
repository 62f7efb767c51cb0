package org.ssmpeft.runtime.data;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reading JSON and JSONL data files record by record, with the record's index and line for error messages. */
final class JsonRecords {

    static final ObjectMapper JSON = new ObjectMapper();

    /** One record: its 0-based index, the line it starts on, and its value. */
    record Entry(Path file, int index, long line, JsonNode node) {

        String where() {
            return "record " + index + " (line " + line + ")";
        }

        DataFormatException error(String problem) {
            return DataFormatException.at(file, where(), problem);
        }

        /** A string field; fails naming the field when it is absent or not a string. */
        String text(String field) throws DataFormatException {
            return text(node, field, "");
        }

        String text(JsonNode in, String field, String path) throws DataFormatException {
            if (!in.isObject()) {
                throw error("expected an object" + (path.isEmpty() ? "" : " at " + path) + ", found "
                        + kind(in));
            }
            JsonNode v = in.get(field);
            if (v == null || !v.isTextual()) {
                throw error("expected field '" + path + field + "' (a string), "
                        + (v == null ? "it is missing" : "found " + kind(v)));
            }
            return v.asText();
        }

        /** An array field; fails naming the field when it is absent or not an array. */
        JsonNode array(String field) throws DataFormatException {
            JsonNode v = node.get(field);
            if (v == null || !v.isArray()) {
                throw error("expected field '" + field + "' (an array), "
                        + (v == null ? "it is missing" : "found " + kind(v)));
            }
            return v;
        }
    }

    @FunctionalInterface
    interface EntryReader<T> {
        T read(Entry entry) throws DataFormatException;
    }

    private JsonRecords() {
    }

    static String kind(JsonNode v) {
        return v.isNull() ? "null" : v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " " + abbreviate(v);
    }

    private static String abbreviate(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    /** The elements of a file holding one JSON array of records, read one at a time. */
    static <T> List<T> readArray(Path file, EntryReader<T> reader) throws IOException {
        List<T> out = new ArrayList<>();
        try (JsonParser p = JSON.createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw DataFormatException.at(file, "line " + p.currentTokenLocation().getLineNr(),
                        "expected a JSON array of records, found " + p.currentToken());
            }
            int index = 0;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                if (p.currentToken() == null) {
                    throw DataFormatException.at(file, "record " + index, "the file ends inside the array");
                }
                long line = p.currentTokenLocation().getLineNr();
                JsonNode node = JSON.readTree(p);
                Entry e = new Entry(file, index, line, node);
                if (!node.isObject()) {
                    throw e.error("expected an object, found " + kind(node));
                }
                out.add(reader.read(e));
                index++;
            }
        } catch (JacksonException e) {
            throw new DataFormatException(file + ": not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr()), e);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw missing(file);
        }
        return out;
    }

    /** The records of a JSON Lines file (one object per line; blank lines skipped). */
    static <T> List<T> readLines(Path file, EntryReader<T> reader) throws IOException {
        List<T> out = new ArrayList<>();
        if (!Files.isRegularFile(file)) {
            throw missing(file);
        }
        long line = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String text;
            int index = 0;
            while ((text = r.readLine()) != null) {
                line++;
                if (text.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = JSON.readTree(text);
                } catch (JacksonException e) {
                    throw DataFormatException.at(file, "line " + line, "not valid JSON: " + e.getOriginalMessage());
                }
                Entry e = new Entry(file, index, line, node);
                if (!node.isObject()) {
                    throw e.error("expected an object, found " + kind(node));
                }
                out.add(reader.read(e));
                index++;
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw notText(file, line + 1);
        }
        return out;
    }

    /** The file holds bytes that are not UTF-8 text (the decoder reads ahead, so the line is approximate). */
    static DataFormatException notText(Path file, long line) {
        return DataFormatException.at(file, "line " + line, "not UTF-8 text (bytes that no UTF-8 character"
                + " has, near this line): expected a UTF-8 text file; is it a binary or another encoding?");
    }

    static DataFormatException missing(Path file) {
        return new DataFormatException("no data file at " + file.toAbsolutePath()
                + "; the benchmark files are the user's to supply (nothing is downloaded)");
    }
}
