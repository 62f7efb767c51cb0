package org.ssmpeft.runtime.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Spider (Yu et al., 2018) in its published layout: a folder with {@code train_spider.json} and {@code dev.json}
 * (JSON arrays of {@code {db_id, question, query, ...}}), {@code tables.json} (one schema per database) and
 * {@code database/<db_id>/<db_id>.sqlite}.
 *
 * <p>Prompt, as the paper code's {@code dataset/spider.py} builds it, reproduced character for character:
 * <ul>
 *   <li>prefix (tokenised on its own): {@code "Create a sql request for the following question and schema:\n###"};</li>
 *   <li>input: {@code "Question: " + question + "\\Schema: " + schema + "\n"}. The backslash before {@code Schema} is
 *       the reference code's typo ({@code "\Schema"} in a Python f-string is a backslash and an S, not a newline);
 *       it is kept because the published numbers were obtained with it;</li>
 *   <li>schema: per table {@code lower(table + ": " + join(" ,  ", ["col type"..., "foreign: " + join(" , ", ["col
 *       from table"...]), "primary: " + join(" , ", [col...])]))}, tables joined by {@code " | "}, built from
 *       {@code table_names_original}, {@code column_names_original}, {@code column_types}, {@code primary_keys} and
 *       {@code foreign_keys} (a foreign key is listed under the table of its first column and names the referenced
 *       column and table);</li>
 *   <li>output (the training target): the gold {@code query} stripped, as written ({@link Target#AS_WRITTEN}, the
 *       default) or lower-cased as the paper code trains it ({@link Target#LOWER_CASED}).</li>
 * </ul>
 * Whatever the target, the published gold query is kept on the example, as written: field {@value #GOLD_FIELD} and
 * {@link Example#references()} (stripped). Scoring must use it ({@link #gold}): lower-casing changes string literals,
 * so {@code WHERE Country = 'Chile'} becomes {@code 'chile'}, which selects nothing, and a correct prediction would be
 * scored wrong against the lower-cased target.
 * Composite primary keys written as nested lists (newer releases of tables.json) are flattened; the reference code
 * would fail on them. Fields: {@code db_id}, {@code database} (the resolved SQLite path, checked to exist and to
 * start with the SQLite header when databases are required; each example is scored on its own database),
 * {@value #GOLD_FIELD} (the gold query exactly as in the file) and {@value #FOREIGN_KEYS_FIELD} (the database's
 * foreign-key map for the exact-set match, {@link #foreignKeys}).
 */
public final class SpiderData {

    /** The questions files of the published splits. */
    public static final String TRAIN_FILE = "train_spider.json";
    public static final String VALIDATION_FILE = "dev.json";
    public static final String TABLES_FILE = "tables.json";
    public static final String DATABASE_DIR = "database";

    /** The field holding the published gold query, exactly as written in the questions file. */
    public static final String GOLD_FIELD = "query";

    /** The field holding the query's hardness (easy, medium, hard, extra; {@link SpiderHardness}), where the record
     * carries its parsed {@code sql}. */
    public static final String HARDNESS_FIELD = "hardness";

    /** The field holding the example's SQLite database path. */
    public static final String DATABASE_FIELD = "database";

    /**
     * The field holding the database's foreign-key map for Spider's exact-set match ({@link #foreignKeys}): one
     * {@code __table.column__ TAB __table.column__} line per column that a foreign key joins.
     */
    public static final String FOREIGN_KEYS_FIELD = "foreign_keys";

    /** What the model is trained to write: the gold query as published, or lower-cased as the paper code does. */
    public enum Target {
        /** {@code query.strip()}: the default; the literals keep their case, so the target runs as the gold does */
        AS_WRITTEN,
        /** {@code query.lower().strip()}: the paper code's {@code dataset/spider.py} label */
        LOWER_CASED;

        /** The training target of a gold query. */
        public String apply(String query) {
            return this == LOWER_CASED ? query.toLowerCase(Locale.ROOT).strip() : query.strip();
        }

        /** The target of a name ({@code as_written}, {@code lower_cased}, any case, {@code -} for {@code _}). */
        public static Target forName(String name) {
            String n = name.strip().toUpperCase(Locale.ROOT).replace('-', '_');
            for (Target t : values()) {
                if (t.name().equals(n)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown Spider target '" + name + "'; expected as_written (the"
                    + " published gold query, the default) or lower_cased (the paper code's training label)");
        }
    }

    private static final byte[] SQLITE_MAGIC = "SQLite format 3\0".getBytes(StandardCharsets.US_ASCII);

    private SpiderData() {
    }

    /** A published split from the Spider folder (train: train_spider.json, validation: dev.json). */
    public static Dataset load(Path spiderDir, Split split) throws IOException {
        return load(spiderDir, split, Target.AS_WRITTEN);
    }

    /** A published split with the given training target. */
    public static Dataset load(Path spiderDir, Split split, Target target) throws IOException {
        String file = switch (split) {
            case TRAIN -> TRAIN_FILE;
            case VALIDATION -> VALIDATION_FILE;
            case TEST -> throw new IllegalArgumentException("the paper evaluates Spider on dev.json (validation);"
                    + " for another questions file call loadFiles(questions, tables, databaseDir, true, split)");
        };
        return loadFiles(spiderDir.resolve(file), spiderDir.resolve(TABLES_FILE), spiderDir.resolve(DATABASE_DIR), true,
                split, target);
    }

    /**
     * The examples of a questions file with schemas from {@code tablesFile}, labelled as {@code split}; with
     * {@code requireDatabases} every {@code <databaseDir>/<db_id>/<db_id>.sqlite} must exist and be an SQLite file.
     */
    public static Dataset loadFiles(Path questionsFile, Path tablesFile, Path databaseDir, boolean requireDatabases,
                               Split split) throws IOException {
        return loadFiles(questionsFile, tablesFile, databaseDir, requireDatabases, split, Target.AS_WRITTEN);
    }

    /** As {@link #loadFiles(Path, Path, Path, boolean, Split)}, with the given training target. */
    public static Dataset loadFiles(Path questionsFile, Path tablesFile, Path databaseDir, boolean requireDatabases,
                                    Split split, Target target) throws IOException {
        if (!Files.isRegularFile(questionsFile)) {
            throw JsonRecords.missing(questionsFile);
        }
        Map<String, Tables> schemas = readTables(tablesFile);
        Map<String, Path> checked = new HashMap<>();
        List<Example> examples = JsonRecords.readArray(questionsFile, r -> {
            String dbId = r.text("db_id");
            String question = r.text("question");
            String query = r.text("query");
            Tables schema = schemas.get(dbId);
            if (schema == null) {
                throw r.error("db_id '" + dbId + "' has no schema in " + tablesFile);
            }
            Path db = databaseDir.resolve(dbId).resolve(dbId + ".sqlite");
            if (requireDatabases && !checked.containsKey(dbId)) {
                checkDatabase(db, r);
                checked.put(dbId, db);
            }
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("db_id", dbId);
            fields.put(DATABASE_FIELD, db.toString());
            fields.put(GOLD_FIELD, query);
            fields.put(FOREIGN_KEYS_FIELD, schema.foreignKeys());
            SpiderHardness.of(r.node().get("sql")).ifPresent(h -> fields.put(HARDNESS_FIELD, h));
            return new Example(input(question, schema.prompt()), target.apply(query), List.of(query.strip()), fields);
        });
        return new Dataset("spider", split, Mode.TRAIN, PromptFormat.generation(PromptFormat.SPIDER_PREFIX), examples);
    }

    /** The published gold query of a Spider example, stripped, whatever its training target. */
    public static String gold(Example e) {
        return e.field(GOLD_FIELD).orElseThrow(() -> new IllegalArgumentException("not a Spider example (no '"
                + GOLD_FIELD + "' field): " + e.input())).strip();
    }

    /** The SQLite database a Spider example is scored on. */
    public static Path database(Example e) {
        return Path.of(e.field(DATABASE_FIELD).orElseThrow(() -> new IllegalArgumentException("not a Spider"
                + " example (no '" + DATABASE_FIELD + "' field): " + e.input())));
    }

    /** The reference input: {@code "Question: {question}\Schema: {schema}\n"}, the backslash included. */
    public static String input(String question, String schema) {
        return "Question: " + question + "\\Schema: " + schema + "\n";
    }

    /**
     * The foreign-key map of an example's database, as Spider's {@code evaluation.build_foreign_key_map} builds it:
     * column id {@code __table.column__} (lower-cased original names) to the id of the representative of its key
     * group; empty for an example without the field.
     */
    public static Map<String, String> foreignKeys(Example e) {
        Map<String, String> out = new LinkedHashMap<>();
        String lines = e.field(FOREIGN_KEYS_FIELD).orElse("");
        for (String line : lines.split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                out.put(line.substring(0, tab), line.substring(tab + 1));
            }
        }
        return out;
    }

    /** The schema string of every database in a {@code tables.json}, by {@code db_id}. */
    public static Map<String, String> readSchemas(Path tablesFile) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        readTables(tablesFile).forEach((db, t) -> out.put(db, t.prompt()));
        return out;
    }

    /** A database of {@code tables.json}: its prompt string and its encoded foreign-key map. */
    private record Tables(String prompt, String foreignKeys) {
    }

    private static Map<String, Tables> readTables(Path tablesFile) throws IOException {
        Map<String, Tables> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tables> e : JsonRecords.readArray(tablesFile,
                r -> Map.entry(r.text("db_id"), new Tables(schema(r), foreignKeyMap(r))))) {
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    /**
     * {@code build_foreign_key_map}: the foreign-key pairs are grouped in file order (a pair joins the first group
     * holding either of its columns, else starts one; groups are not merged later), and each column of a group maps
     * to the group's lowest-indexed column. Encoded for {@link #FOREIGN_KEYS_FIELD}.
     */
    private static String foreignKeyMap(JsonRecords.Entry r) throws DataFormatException {
        JsonNode tables = r.array("table_names_original");
        JsonNode columns = r.array("column_names_original");
        List<String> ids = new ArrayList<>();
        for (JsonNode col : columns) {
            int t = col.path(0).intValue();
            ids.add(t >= 0 && t < tables.size() ? "__" + (tables.get(t).asText() + "." + col.path(1).asText())
                    .toLowerCase(Locale.ROOT) + "__" : "__all__");
        }
        List<TreeSet<Integer>> groups = new ArrayList<>();
        for (JsonNode pair : r.array("foreign_keys")) {
            int a = pair.path(0).intValue();
            int b = pair.path(1).intValue();
            checkColumn(r, "foreign_keys", a, ids.size());
            checkColumn(r, "foreign_keys", b, ids.size());
            TreeSet<Integer> group = null;
            for (TreeSet<Integer> g : groups) {
                if (g.contains(a) || g.contains(b)) {
                    group = g;
                    break;
                }
            }
            if (group == null) {
                group = new TreeSet<>();
                groups.add(group);
            }
            group.add(a);
            group.add(b);
        }
        Map<String, String> map = new TreeMap<>();
        for (TreeSet<Integer> g : groups) {
            for (int c : g) {
                map.put(ids.get(c), ids.get(g.first()));
            }
        }
        StringBuilder out = new StringBuilder();
        map.forEach((from, to) -> out.append(from).append('\t').append(to).append('\n'));
        return out.toString();
    }

    private static String schema(JsonRecords.Entry r) throws DataFormatException {
        JsonNode tables = r.array("table_names_original");
        JsonNode columns = r.array("column_names_original");
        JsonNode types = r.array("column_types");
        JsonNode primary = r.array("primary_keys");
        JsonNode foreign = r.array("foreign_keys");
        if (types.size() != columns.size()) {
            throw r.error("expected as many 'column_types' as 'column_names_original' (" + columns.size()
                    + "), found " + types.size());
        }
        int[] columnTable = new int[columns.size()];
        String[] columnName = new String[columns.size()];
        for (int c = 0; c < columns.size(); c++) {
            JsonNode col = columns.get(c);
            if (!col.isArray() || col.size() != 2 || !col.get(0).canConvertToInt() || !col.get(1).isTextual()) {
                throw r.error("expected 'column_names_original[" + c + "]' to be [table index, name], found " + col);
            }
            columnTable[c] = col.get(0).intValue();
            columnName[c] = col.get(1).asText();
        }
        List<Integer> primaryKeys = new ArrayList<>();
        for (JsonNode k : primary) {
            if (k.isArray()) { // composite key in newer tables.json releases
                k.forEach(x -> primaryKeys.add(x.intValue()));
            } else {
                primaryKeys.add(k.intValue());
            }
        }
        for (int k : primaryKeys) {
            checkColumn(r, "primary_keys", k, columns.size());
        }
        List<String> out = new ArrayList<>();
        for (int t = 0; t < tables.size(); t++) {
            List<String> parts = new ArrayList<>();
            for (int c = 0; c < columns.size(); c++) {
                if (columnTable[c] == t) {
                    parts.add(columnName[c] + " " + types.get(c).asText());
                }
            }
            List<String> fk = new ArrayList<>();
            for (JsonNode pair : foreign) {
                if (!pair.isArray() || pair.size() != 2) {
                    throw r.error("expected every 'foreign_keys' entry to be [column, referenced column], found "
                            + pair);
                }
                int from = pair.get(0).intValue();
                int to = pair.get(1).intValue();
                checkColumn(r, "foreign_keys", from, columns.size());
                checkColumn(r, "foreign_keys", to, columns.size());
                if (columnTable[from] == t) {
                    if (columnTable[to] < 0 || columnTable[to] >= tables.size()) {
                        throw r.error("'foreign_keys' refers to column " + to + " which belongs to no table");
                    }
                    fk.add(columnName[to] + " from " + tables.get(columnTable[to]).asText());
                }
            }
            List<String> pk = new ArrayList<>();
            for (int k : primaryKeys) {
                if (columnTable[k] == t) {
                    pk.add(columnName[k]);
                }
            }
            parts.add("foreign: " + String.join(" , ", fk));
            parts.add("primary: " + String.join(" , ", pk));
            out.add((tables.get(t).asText() + ": " + String.join(" ,  ", parts)).toLowerCase(Locale.ROOT));
        }
        return String.join(" | ", out);
    }

    private static void checkColumn(JsonRecords.Entry r, String field, int k, int columns) throws DataFormatException {
        if (k < 0 || k >= columns) {
            throw r.error("'" + field + "' names column " + k + "; expected an index into column_names_original"
                    + " (0.." + (columns - 1) + ")");
        }
    }

    private static void checkDatabase(Path db, JsonRecords.Entry r) throws DataFormatException {
        if (!Files.isRegularFile(db)) {
            throw r.error("the database of db_id '" + r.node().path("db_id").asText() + "' is missing: expected "
                    + db.toAbsolutePath() + " (Spider's database/<db_id>/<db_id>.sqlite)");
        }
        byte[] head = new byte[SQLITE_MAGIC.length];
        try (InputStream in = Files.newInputStream(db)) {
            if (in.readNBytes(head, 0, head.length) != head.length || !Arrays.equals(head, SQLITE_MAGIC)) {
                throw r.error(db + " is not an SQLite database (no 'SQLite format 3' header)");
            }
        } catch (IOException e) {
            throw r.error("cannot read " + db + ": " + e.getMessage());
        }
    }
}
