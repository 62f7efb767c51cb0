package org.ssmpeft.runtime.metrics;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Spider's exact-set match without values ("exact matching" of the official {@code evaluation.py}, taoyds/spider, as
 * the paper code's {@code metrics/spider/lib} runs it): both queries are parsed against the example's own database
 * schema into their clauses ({@code process_sql.py}'s structure), literal values are masked, {@code DISTINCT} is
 * dropped, and each column that a foreign key joins stands for the first column of its key group; then the prediction
 * matches when every component matches:
 * <ul>
 *   <li>SELECT: the multiset of (aggregation, column expression);</li>
 *   <li>WHERE: the multiset of conditions (negation, operator, column expression, nested query where the value is
 *       one; literal values are ignored), and the set of its {@code and}/{@code or};</li>
 *   <li>GROUP BY: the multiset of column names (without their table); with HAVING: the same GROUP BY columns in order
 *       and the same HAVING conditions in order;</li>
 *   <li>ORDER BY: the same direction and column expressions in order, and a LIMIT on both or neither (its number is
 *       a value, ignored);</li>
 *   <li>INTERSECT, UNION, EXCEPT: the same ones present, each matching recursively;</li>
 *   <li>keywords: the same set of {@code where, group, having, order, asc/desc, limit, intersect, union, except, or,
 *       not, in, like};</li>
 *   <li>FROM: the multiset of tables (and subqueries); the join conditions themselves are not compared.</li>
 * </ul>
 * The parser follows {@code process_sql.py} step by step, including what it refuses: a table alias must be
 * introduced with {@code AS}, tokens are split as NLTK's word tokenizer splits them ({@code a=b} is one token and so
 * unreadable), only one INTERSECT/UNION/EXCEPT per level. A prediction it cannot read does not match. Where the
 * official evaluation cannot read the gold query it silently keeps the previous example's parse; here such an
 * example does not match either.
 */
public final class SpiderExactSetMatch {

    private SpiderExactSetMatch() {
    }

    /**
     * A database as the evaluation sees it: its tables and their columns, lower-cased, in the database's order
     * ({@code process_sql.get_schema}: {@code sqlite_master} and {@code PRAGMA table_info}); and the foreign-key map
     * ({@code evaluation.build_foreign_key_map}): column id {@code __table.column__} to the id of the first column
     * (in {@code tables.json} order) of its key group.
     */
    public record Schema(Map<String, List<String>> tables, Map<String, String> foreignKeys) {
        public Schema {
            Map<String, List<String>> t = new LinkedHashMap<>();
            tables.forEach((k, v) -> t.put(k.toLowerCase(Locale.ROOT),
                    v.stream().map(c -> c.toLowerCase(Locale.ROOT)).toList()));
            tables = Collections.unmodifiableMap(t);
            foreignKeys = Map.copyOf(foreignKeys);
        }

        /** {@code process_sql.Schema.idMap}: {@code *}, {@code table.column} and {@code table} to their ids. */
        private Map<String, String> idMap() {
            Map<String, String> ids = new HashMap<>();
            ids.put("*", ALL);
            tables.forEach((table, columns) -> {
                for (String c : columns) {
                    ids.put(table + "." + c, "__" + table + "." + c + "__");
                }
                ids.put(table, "__" + table + "__");
            });
            return ids;
        }
    }

    /** Whether {@code predicted} matches {@code gold} on {@code schema}; false when either cannot be parsed. */
    public static boolean matches(String predicted, String gold, Schema schema) {
        Sql g = parseOrNull(gold, schema);
        Sql p = parseOrNull(predicted, schema);
        return g != null && p != null && exactMatch(normalise(p, schema), normalise(g, schema));
    }

    /** Whether a query can be read by the evaluation's parser on {@code schema}. */
    public static boolean parses(String query, Schema schema) {
        return parseOrNull(query, schema) != null;
    }

    private static Sql parseOrNull(String query, Schema schema) {
        try {
            return parse(query, schema);
        } catch (Unparsable | RuntimeException e) {
            // the reference catches every exception of the parser (an assertion, a KeyError, an IndexError)
            return null;
        }
    }

    // ---- the parsed query (process_sql.py's structure) --------------------------------------------------------------

    private static final String ALL = "__all__";
    private static final List<String> CLAUSE_KEYWORDS = List.of("select", "from", "where", "group", "order", "limit",
            "intersect", "union", "except");
    private static final List<String> JOIN_KEYWORDS = List.of("join", "on", "as");
    private static final List<String> WHERE_OPS = List.of("not", "between", "=", ">", "<", ">=", "<=", "!=", "in",
            "like", "is", "exists");
    private static final List<String> UNIT_OPS = List.of("none", "-", "+", "*", "/");
    private static final List<String> AGG_OPS = List.of("none", "max", "min", "count", "sum", "avg");
    private static final List<String> COND_OPS = List.of("and", "or");
    private static final List<String> SQL_OPS = List.of("intersect", "union", "except");
    private static final List<String> ORDER_OPS = List.of("desc", "asc");
    private static final int BETWEEN = WHERE_OPS.indexOf("between");
    private static final int IN = WHERE_OPS.indexOf("in");
    private static final int LIKE = WHERE_OPS.indexOf("like");

    /** {@code (agg_id, col_id, isDistinct)}. */
    private record ColUnit(int agg, String column, boolean distinct) {
    }

    /** {@code (unit_op, col_unit1, col_unit2)}; {@code second} is null without an operator. */
    private record ValUnit(int op, ColUnit first, ColUnit second) {
    }

    /**
     * {@code (not_op, op_id, val_unit, val1, val2)}; a value is a string token, a {@link Double}, a {@link ColUnit},
     * a nested {@link Sql}, or null (none, or masked).
     */
    private record CondUnit(boolean not, int op, ValUnit valUnit, Object value1, Object value2) {
    }

    /** {@code (agg_id, val_unit)} of SELECT. */
    private record SelectItem(int agg, ValUnit valUnit) {
    }

    /** {@code (table_type, table id or sql)}. */
    private record TableUnit(boolean subquery, Object unit) {
    }

    /** {@code ('asc'|'desc', [val_unit, ...])}. */
    private record OrderBy(String direction, List<ValUnit> units) {
    }

    /**
     * The {@code sql} dict; conditions are the reference's flat lists {@code [cond_unit, 'and'|'or', cond_unit...]};
     * {@code orderBy}, {@code limit} and the set operations are null when absent.
     */
    private record Sql(boolean distinct, List<SelectItem> select, List<TableUnit> from, List<Object> joins,
                       List<Object> where, List<ColUnit> groupBy, List<Object> having, OrderBy orderBy, String limit,
                       Sql intersect, Sql union, Sql except) {
    }

    /** The reference parser gave up (an assertion, a missing key or an index past the end). */
    private static final class Unparsable extends Exception {
        Unparsable(String message) {
            super(message, null, false, false);
        }
    }

    // ---- tokens (process_sql.tokenize) ------------------------------------------------------------------------------

    private static final Pattern FINAL_PERIOD = Pattern.compile("([^.])(\\.)([\\])}>\"'\u00bb\u201d\u2019 ]*)\\s*$");
    private static final Pattern COMMA_COLON = Pattern.compile("([:,])([^\\d])");
    private static final Pattern COMMA_COLON_END = Pattern.compile("([:,])$");
    private static final Pattern ELLIPSIS = Pattern.compile("\\.{2,}");
    private static final Pattern SYMBOLS = Pattern.compile("[;@#$%&\\u2012-\\u2015?!*\\]\\[(){}<>]");
    private static final Pattern DOUBLE_DASH = Pattern.compile("--");
    /** NLTK's contractions without an apostrophe (the apostrophes are quotes here, so values). */
    private static final Pattern CONTRACTIONS = Pattern.compile(
            "(?i)\\b(can)(not)\\b|\\b(gim)(me)\\b|\\b(gon)(na)\\b|\\b(got)(ta)\\b|\\b(lem)(me)\\b|\\b(wan)(na)(?=\\s)");

    /**
     * The reference's tokens: quotes unified to {@code "}, each quoted string kept whole as one token, the rest split
     * as NLTK's {@code word_tokenize} splits it (brackets, {@code ; @ # $ % & ? ! *} padded, a comma or colon split
     * unless a digit follows, a final period split) and lower-cased, then {@code ! > <} joined with a following
     * {@code =}.
     */
    static List<String> tokenize(String query) throws Unparsable {
        String s = query.replace('\'', '"');
        List<Integer> quotes = new ArrayList<>();
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '"') {
                quotes.add(i);
            }
        }
        if (quotes.size() % 2 != 0) {
            throw new Unparsable("unexpected quote");
        }
        Map<String, String> values = new HashMap<>();
        for (int i = quotes.size() - 1; i >= 0; i -= 2) {
            int q1 = quotes.get(i - 1);
            int q2 = quotes.get(i);
            String key = "__val_" + q1 + "_" + q2 + "__";
            values.put(key, s.substring(q1, q2 + 1));
            s = s.substring(0, q1) + key + s.substring(q2 + 1);
        }
        s = FINAL_PERIOD.matcher(s).replaceAll("$1 $2 $3 ");
        s = COMMA_COLON.matcher(s).replaceAll(" $1 $2");
        s = COMMA_COLON_END.matcher(s).replaceAll(" $1 ");
        s = ELLIPSIS.matcher(s).replaceAll(" $0 ");
        s = SYMBOLS.matcher(s).replaceAll(" $0 ");
        s = DOUBLE_DASH.matcher(s).replaceAll(" -- ");
        s = CONTRACTIONS.matcher(" " + s + " ").replaceAll(m -> {
            for (int g = 1; g <= m.groupCount(); g += 2) {
                if (m.group(g) != null) {
                    return " " + m.group(g) + " " + m.group(g + 1) + " ";
                }
            }
            return m.group();
        });
        List<String> toks = new ArrayList<>();
        for (String t : s.strip().split("\\s+")) {
            if (!t.isEmpty()) {
                String lower = t.toLowerCase(Locale.ROOT);
                toks.add(values.getOrDefault(lower, lower));
            }
        }
        for (int i = toks.size() - 1; i >= 1; i--) {
            if (toks.get(i).equals("=") && List.of("!", ">", "<").contains(toks.get(i - 1))) {
                toks.set(i - 1, toks.get(i - 1) + "=");
                toks.remove(i);
            }
        }
        return toks;
    }

    // ---- parsing (process_sql.get_sql and its parse_* functions) ---------------------------------------------------

    private static Sql parse(String query, Schema schema) throws Unparsable {
        List<String> toks = tokenize(query);
        return new Parser(schema, toks).parseSql(toks, 0).sql;
    }

    private record Parsed<T>(int next, T value) {
    }

    private record ParsedSql(int next, Sql sql) {
    }

    private static final class Parser {
        private final Schema schema;
        private final Map<String, String> ids;
        private final Map<String, String> aliases = new HashMap<>();

        /** {@code get_tables_with_alias}: every {@code x AS y} gives y -> x, then each table names itself. */
        Parser(Schema schema, List<String> toks) throws Unparsable {
            this.schema = schema;
            this.ids = schema.idMap();
            for (int i = 0; i < toks.size(); i++) {
                if (toks.get(i).equals("as")) {
                    aliases.put(at(toks, i + 1), at(toks, i - 1));
                }
            }
            for (String table : schema.tables().keySet()) {
                if (aliases.containsKey(table)) {
                    throw new Unparsable("alias " + table + " has the same name as a table");
                }
                aliases.put(table, table);
            }
        }

        private static String at(List<String> toks, int i) throws Unparsable {
            if (i < 0 || i >= toks.size()) {
                throw new Unparsable("ran past the end of the query");
            }
            return toks.get(i);
        }

        private static boolean is(List<String> toks, int i, String tok) {
            return i < toks.size() && toks.get(i).equals(tok);
        }

        private static void expect(List<String> toks, int i, String tok) throws Unparsable {
            if (!at(toks, i).equals(tok)) {
                throw new Unparsable("expected '" + tok + "' at token " + i);
            }
        }

        private String id(String key) throws Unparsable {
            String id = ids.get(key);
            if (id == null) {
                throw new Unparsable("no column or table " + key);
            }
            return id;
        }

        private String table(String aliasOrTable) throws Unparsable {
            String t = aliases.get(aliasOrTable);
            if (t == null) {
                throw new Unparsable("no table or alias " + aliasOrTable);
            }
            return t;
        }

        /** {@code parse_col}: {@code *}, {@code alias.column}, or a column of the first FROM table that has it. */
        Parsed<String> parseCol(List<String> toks, int start, List<String> defaultTables) throws Unparsable {
            String tok = at(toks, start);
            if (tok.equals("*")) {
                return new Parsed<>(start + 1, ALL);
            }
            if (tok.contains(".")) {
                String[] parts = tok.split("\\.", -1);
                if (parts.length != 2) {
                    throw new Unparsable("column " + tok);
                }
                return new Parsed<>(start + 1, id(table(parts[0]) + "." + parts[1]));
            }
            if (defaultTables == null || defaultTables.isEmpty()) {
                throw new Unparsable("no FROM tables for column " + tok);
            }
            for (String alias : defaultTables) {
                String table = table(alias);
                List<String> columns = schema.tables().get(table);
                if (columns != null && columns.contains(tok)) {
                    return new Parsed<>(start + 1, id(table + "." + tok));
                }
            }
            throw new Unparsable("no column " + tok);
        }

        /** {@code parse_col_unit}: {@code [(] [agg ( [distinct] col )] | [distinct] col [)]}. */
        Parsed<ColUnit> parseColUnit(List<String> toks, int start, List<String> defaultTables) throws Unparsable {
            int idx = start;
            boolean block = false;
            boolean distinct = false;
            if (at(toks, idx).equals("(")) {
                block = true;
                idx++;
            }
            if (AGG_OPS.contains(at(toks, idx))) {
                int agg = AGG_OPS.indexOf(toks.get(idx));
                idx++;
                expect(toks, idx, "(");
                idx++;
                if (at(toks, idx).equals("distinct")) {
                    idx++;
                    distinct = true;
                }
                Parsed<String> col = parseCol(toks, idx, defaultTables);
                idx = col.next;
                expect(toks, idx, ")");
                // the reference returns here without consuming the ')' of an enclosing block
                return new Parsed<>(idx + 1, new ColUnit(agg, col.value, distinct));
            }
            if (at(toks, idx).equals("distinct")) {
                idx++;
                distinct = true;
            }
            Parsed<String> col = parseCol(toks, idx, defaultTables);
            idx = col.next;
            if (block) {
                expect(toks, idx, ")");
                idx++;
            }
            return new Parsed<>(idx, new ColUnit(0, col.value, distinct));
        }

        /** {@code parse_val_unit}: {@code [(] col_unit [op col_unit] [)]}. */
        Parsed<ValUnit> parseValUnit(List<String> toks, int start, List<String> defaultTables) throws Unparsable {
            int idx = start;
            boolean block = false;
            if (at(toks, idx).equals("(")) {
                block = true;
                idx++;
            }
            Parsed<ColUnit> first = parseColUnit(toks, idx, defaultTables);
            idx = first.next;
            int op = 0;
            ColUnit second = null;
            if (idx < toks.size() && UNIT_OPS.contains(toks.get(idx))) {
                op = UNIT_OPS.indexOf(toks.get(idx));
                idx++;
                Parsed<ColUnit> s = parseColUnit(toks, idx, defaultTables);
                idx = s.next;
                second = s.value;
            }
            if (block) {
                expect(toks, idx, ")");
                idx++;
            }
            return new Parsed<>(idx, new ValUnit(op, first.value, second));
        }

        /** {@code parse_value}: a nested query, a string, a number, or a column. */
        Parsed<Object> parseValue(List<String> toks, int start, List<String> defaultTables) throws Unparsable {
            int idx = start;
            boolean block = false;
            if (at(toks, idx).equals("(")) {
                block = true;
                idx++;
            }
            Object value;
            String tok = at(toks, idx);
            if (tok.equals("select")) {
                ParsedSql sub = parseSql(toks, idx);
                idx = sub.next;
                value = sub.sql;
            } else if (tok.contains("\"")) {
                value = tok;
                idx++;
            } else if (isPythonFloat(tok)) {
                value = pythonFloat(tok);
                idx++;
            } else {
                int end = idx;
                while (end < toks.size() && !toks.get(end).equals(",") && !toks.get(end).equals(")")
                        && !toks.get(end).equals("and") && !CLAUSE_KEYWORDS.contains(toks.get(end))
                        && !JOIN_KEYWORDS.contains(toks.get(end))) {
                    end++;
                }
                // the reference parses the slice from start (the '(' included), then continues at its end
                value = parseColUnit(toks.subList(start, end), 0, defaultTables).value;
                idx = end;
            }
            if (block) {
                expect(toks, idx, ")");
                idx++;
            }
            return new Parsed<>(idx, value);
        }

        /** {@code parse_condition}: {@code val_unit [not] op value [and value]}, joined by and/or. */
        Parsed<List<Object>> parseCondition(List<String> toks, int start, List<String> defaultTables)
                throws Unparsable {
            int idx = start;
            List<Object> conds = new ArrayList<>();
            while (idx < toks.size()) {
                Parsed<ValUnit> valUnit = parseValUnit(toks, idx, defaultTables);
                idx = valUnit.next;
                boolean not = false;
                if (at(toks, idx).equals("not")) {
                    not = true;
                    idx++;
                }
                if (idx >= toks.size() || !WHERE_OPS.contains(toks.get(idx))) {
                    throw new Unparsable("no condition operator at token " + idx);
                }
                int op = WHERE_OPS.indexOf(toks.get(idx));
                idx++;
                Parsed<Object> v1 = parseValue(toks, idx, defaultTables);
                idx = v1.next;
                Object v2 = null;
                if (op == BETWEEN) {
                    expect(toks, idx, "and");
                    idx++;
                    Parsed<Object> p2 = parseValue(toks, idx, defaultTables);
                    idx = p2.next;
                    v2 = p2.value;
                }
                conds.add(new CondUnit(not, op, valUnit.value, v1.value, v2));
                if (idx < toks.size() && (CLAUSE_KEYWORDS.contains(toks.get(idx)) || toks.get(idx).equals(")")
                        || toks.get(idx).equals(";") || JOIN_KEYWORDS.contains(toks.get(idx)))) {
                    break;
                }
                if (idx < toks.size() && COND_OPS.contains(toks.get(idx))) {
                    conds.add(toks.get(idx));
                    idx++;
                }
            }
            return new Parsed<>(idx, conds);
        }

        private record From(int next, List<TableUnit> tableUnits, List<Object> conds, List<String> defaultTables) {
        }

        /** {@code parse_from}: table units (tables, or nested queries) combined by JOIN ... ON. */
        From parseFrom(List<String> toks, int start) throws Unparsable {
            int fromIdx = toks.subList(start, toks.size()).indexOf("from");
            if (fromIdx < 0) {
                throw new Unparsable("'from' not found");
            }
            int idx = start + fromIdx + 1;
            List<String> defaultTables = new ArrayList<>();
            List<TableUnit> tableUnits = new ArrayList<>();
            List<Object> conds = new ArrayList<>();
            while (idx < toks.size()) {
                boolean block = false;
                if (at(toks, idx).equals("(")) {
                    block = true;
                    idx++;
                }
                if (at(toks, idx).equals("select")) {
                    ParsedSql sub = parseSql(toks, idx);
                    idx = sub.next;
                    tableUnits.add(new TableUnit(true, sub.sql));
                } else {
                    if (is(toks, idx, "join")) {
                        idx++;
                    }
                    String name = table(at(toks, idx));
                    idx += is(toks, idx + 1, "as") ? 3 : 1;
                    tableUnits.add(new TableUnit(false, id(name)));
                    defaultTables.add(name);
                }
                if (is(toks, idx, "on")) {
                    idx++;
                    Parsed<List<Object>> on = parseCondition(toks, idx, defaultTables);
                    idx = on.next;
                    if (!conds.isEmpty()) {
                        conds.add("and");
                    }
                    conds.addAll(on.value);
                }
                if (block) {
                    expect(toks, idx, ")");
                    idx++;
                }
                if (idx < toks.size() && (CLAUSE_KEYWORDS.contains(toks.get(idx)) || toks.get(idx).equals(")")
                        || toks.get(idx).equals(";"))) {
                    break;
                }
            }
            return new From(idx, tableUnits, conds, defaultTables);
        }

        /** {@code parse_select}: {@code select [distinct] [agg] val_unit, ...} up to the next clause. */
        Parsed<List<SelectItem>> parseSelect(List<String> toks, int start, List<String> defaultTables)
                throws Unparsable {
            int idx = start;
            expect(toks, idx, "select");
            idx++;
            if (is(toks, idx, "distinct")) {
                idx++;
            }
            List<SelectItem> items = new ArrayList<>();
            while (idx < toks.size() && !CLAUSE_KEYWORDS.contains(toks.get(idx))) {
                int agg = 0;
                if (AGG_OPS.contains(toks.get(idx))) {
                    agg = AGG_OPS.indexOf(toks.get(idx));
                    idx++;
                }
                Parsed<ValUnit> v = parseValUnit(toks, idx, defaultTables);
                idx = v.next;
                items.add(new SelectItem(agg, v.value));
                if (is(toks, idx, ",")) {
                    idx++;
                }
            }
            return new Parsed<>(idx, items);
        }

        private boolean clauseEnd(List<String> toks, int idx) {
            return CLAUSE_KEYWORDS.contains(toks.get(idx)) || toks.get(idx).equals(")") || toks.get(idx).equals(";");
        }

        /** {@code parse_sql}: FROM first (for the default tables), then the clauses in order, then one set op. */
        ParsedSql parseSql(List<String> toks, int start) throws Unparsable {
            int idx = start;
            boolean block = false;
            if (at(toks, idx).equals("(")) {
                block = true;
                idx++;
            }
            From from = parseFrom(toks, start);
            List<String> tables = from.defaultTables;
            boolean distinct = is(toks, idx + 1, "distinct");
            List<SelectItem> select = parseSelect(toks, idx, tables).value;
            idx = from.next;

            List<Object> where = List.of();
            if (is(toks, idx, "where")) {
                Parsed<List<Object>> w = parseCondition(toks, idx + 1, tables);
                idx = w.next;
                where = w.value;
            }
            List<ColUnit> groupBy = new ArrayList<>();
            if (is(toks, idx, "group")) {
                idx++;
                expect(toks, idx, "by");
                idx++;
                while (idx < toks.size() && !clauseEnd(toks, idx)) {
                    Parsed<ColUnit> c = parseColUnit(toks, idx, tables);
                    idx = c.next;
                    groupBy.add(c.value);
                    if (is(toks, idx, ",")) {
                        idx++;
                    } else {
                        break;
                    }
                }
            }
            List<Object> having = List.of();
            if (is(toks, idx, "having")) {
                Parsed<List<Object>> h = parseCondition(toks, idx + 1, tables);
                idx = h.next;
                having = h.value;
            }
            OrderBy orderBy = null;
            if (is(toks, idx, "order")) {
                idx++;
                expect(toks, idx, "by");
                idx++;
                String direction = "asc";
                List<ValUnit> units = new ArrayList<>();
                while (idx < toks.size() && !clauseEnd(toks, idx)) {
                    Parsed<ValUnit> v = parseValUnit(toks, idx, tables);
                    idx = v.next;
                    units.add(v.value);
                    if (idx < toks.size() && ORDER_OPS.contains(toks.get(idx))) {
                        direction = toks.get(idx);
                        idx++;
                    }
                    if (is(toks, idx, ",")) {
                        idx++;
                    } else {
                        break;
                    }
                }
                orderBy = new OrderBy(direction, List.copyOf(units));
            }
            String limit = null;
            if (is(toks, idx, "limit")) {
                idx += 2;
                limit = at(toks, idx - 1);
                if (!limit.matches("[+-]?\\d(_?\\d)*")) {
                    throw new Unparsable("limit " + limit + " is no integer");
                }
            }
            idx = skipSemicolons(toks, idx);
            if (block) {
                expect(toks, idx, ")");
                idx++;
            }
            idx = skipSemicolons(toks, idx);
            Sql intersect = null;
            Sql union = null;
            Sql except = null;
            if (idx < toks.size() && SQL_OPS.contains(toks.get(idx))) {
                String op = toks.get(idx);
                ParsedSql sub = parseSql(toks, idx + 1);
                idx = sub.next;
                switch (op) {
                    case "intersect" -> intersect = sub.sql;
                    case "union" -> union = sub.sql;
                    default -> except = sub.sql;
                }
            }
            return new ParsedSql(idx, new Sql(distinct, List.copyOf(select), List.copyOf(from.tableUnits),
                    Collections.unmodifiableList(from.conds), where, List.copyOf(groupBy), having, orderBy, limit,
                    intersect, union, except));
        }

        private static int skipSemicolons(List<String> toks, int idx) {
            while (is(toks, idx, ";")) {
                idx++;
            }
            return idx;
        }
    }

    private static final Pattern PYTHON_FLOAT = Pattern.compile(
            "[+-]?(\\d(_?\\d)*(\\.(\\d(_?\\d)*)?)?|\\.\\d(_?\\d)*)([eE][+-]?\\d(_?\\d)*)?");
    private static final Pattern PYTHON_SPECIAL = Pattern.compile("[+-]?(inf|infinity|nan)");

    /** What Python's {@code float()} accepts of a (lower-cased) token: decimals, exponents, digit underscores, inf, nan. */
    private static boolean isPythonFloat(String tok) {
        return PYTHON_FLOAT.matcher(tok).matches() || PYTHON_SPECIAL.matcher(tok).matches();
    }

    private static double pythonFloat(String tok) {
        if (PYTHON_SPECIAL.matcher(tok).matches()) {
            double v = tok.contains("nan") ? Double.NaN : Double.POSITIVE_INFINITY;
            return tok.startsWith("-") ? -v : v;
        }
        return Double.parseDouble(tok.replace("_", ""));
    }

    // ---- normalisation before comparing (evaluation.rebuild_sql_val, rebuild_sql_col) ------------------------------

    /** Values masked, then columns canonicalised with the columns of the query's own FROM tables. */
    private static Sql normalise(Sql sql, Schema schema) {
        Set<String> prefixes = new HashSet<>();
        for (TableUnit t : sql.from()) {
            if (!t.subquery()) {
                String id = (String) t.unit();
                prefixes.add(id.substring(0, id.length() - 2));
            }
        }
        Set<String> valid = new HashSet<>();
        for (String id : schema.idMap().values()) {
            int dot = id.indexOf('.');
            if (dot >= 0 && prefixes.contains(id.substring(0, dot))) {
                valid.add(id);
            }
        }
        return columns(maskValues(sql), valid, schema.foreignKeys());
    }

    /**
     * {@code rebuild_sql_val}: every condition value of FROM, WHERE and HAVING becomes null unless it is a nested
     * query (itself masked), recursively through INTERSECT, UNION, EXCEPT; FROM subqueries are left as they are.
     */
    private static Sql maskValues(Sql s) {
        if (s == null) {
            return null;
        }
        return new Sql(s.distinct(), s.select(), s.from(), maskCondition(s.joins()), maskCondition(s.where()),
                s.groupBy(), maskCondition(s.having()), s.orderBy(), s.limit(), maskValues(s.intersect()),
                maskValues(s.union()), maskValues(s.except()));
    }

    private static List<Object> maskCondition(List<Object> condition) {
        List<Object> out = new ArrayList<>(condition.size());
        for (int i = 0; i < condition.size(); i++) {
            if (i % 2 == 0 && condition.get(i) instanceof CondUnit c) {
                out.add(new CondUnit(c.not(), c.op(), c.valUnit(), c.value1() instanceof Sql q ? maskValues(q) : null,
                        c.value2() instanceof Sql q ? maskValues(q) : null));
            } else {
                out.add(condition.get(i));
            }
        }
        return out;
    }

    /**
     * {@code rebuild_sql_col}: DISTINCT dropped and each column of the FROM tables replaced by its foreign-key
     * representative, in SELECT, the join conditions, WHERE, GROUP BY, ORDER BY, HAVING (not inside their nested
     * queries), and through INTERSECT, UNION, EXCEPT with the same columns.
     */
    private static Sql columns(Sql s, Set<String> valid, Map<String, String> keys) {
        if (s == null) {
            return null;
        }
        List<SelectItem> select = new ArrayList<>();
        for (SelectItem item : s.select()) {
            select.add(new SelectItem(item.agg(), column(item.valUnit(), valid, keys)));
        }
        List<ColUnit> groupBy = new ArrayList<>();
        for (ColUnit c : s.groupBy()) {
            groupBy.add(column(c, valid, keys));
        }
        OrderBy orderBy = null;
        if (s.orderBy() != null) {
            List<ValUnit> units = new ArrayList<>();
            for (ValUnit v : s.orderBy().units()) {
                units.add(column(v, valid, keys));
            }
            orderBy = new OrderBy(s.orderBy().direction(), units);
        }
        return new Sql(false, select, s.from(), columns(s.joins(), valid, keys), columns(s.where(), valid, keys),
                groupBy, columns(s.having(), valid, keys), orderBy, s.limit(), columns(s.intersect(), valid, keys),
                columns(s.union(), valid, keys), columns(s.except(), valid, keys));
    }

    private static List<Object> columns(List<Object> condition, Set<String> valid, Map<String, String> keys) {
        List<Object> out = new ArrayList<>(condition.size());
        for (int i = 0; i < condition.size(); i++) {
            if (i % 2 == 0 && condition.get(i) instanceof CondUnit c) {
                out.add(new CondUnit(c.not(), c.op(), column(c.valUnit(), valid, keys), c.value1(), c.value2()));
            } else {
                out.add(condition.get(i));
            }
        }
        return out;
    }

    private static ValUnit column(ValUnit v, Set<String> valid, Map<String, String> keys) {
        return new ValUnit(v.op(), column(v.first(), valid, keys), column(v.second(), valid, keys));
    }

    private static ColUnit column(ColUnit c, Set<String> valid, Map<String, String> keys) {
        if (c == null) {
            return null;
        }
        String col = keys.containsKey(c.column()) && valid.contains(c.column()) ? keys.get(c.column()) : c.column();
        return new ColUnit(c.agg(), col, false);
    }

    // ---- comparing (evaluation.Evaluator.eval_exact_match) ---------------------------------------------------------

    /** Every component's F1 is 1, and the FROM tables are the same multiset (when the gold has any). */
    private static boolean exactMatch(Sql p, Sql g) {
        boolean components = multiset(p.select()).equals(multiset(g.select()))
                && multiset(units(p.where())).equals(multiset(units(g.where())))
                && multiset(groupColumnNames(p)).equals(multiset(groupColumnNames(g)))
                && havingMatches(p, g)
                && orderMatches(p, g)
                && new HashSet<>(connectors(p.where())).equals(new HashSet<>(connectors(g.where())))
                && nestedMatches(p.intersect(), g.intersect()) && nestedMatches(p.union(), g.union())
                && nestedMatches(p.except(), g.except())
                && keywords(p).equals(keywords(g));
        return components && (g.from().isEmpty() || multiset(p.from()).equals(multiset(g.from())));
    }

    /** {@code eval_group}: GROUP BY columns compared by what follows the first dot of their id (no table). */
    private static List<String> groupColumnNames(Sql s) {
        List<String> out = new ArrayList<>();
        for (ColUnit c : s.groupBy()) {
            String col = c.column();
            out.add(col.contains(".") ? col.split("\\.", -1)[1] : col);
        }
        return out;
    }

    /** {@code eval_having}: both without GROUP BY, or both with the same GROUP BY columns and HAVING, in order. */
    private static boolean havingMatches(Sql p, Sql g) {
        boolean pg = !p.groupBy().isEmpty();
        boolean gg = !g.groupBy().isEmpty();
        if (!pg && !gg) {
            return true;
        }
        return pg && gg && columnsOf(p.groupBy()).equals(columnsOf(g.groupBy())) && p.having().equals(g.having());
    }

    private static List<String> columnsOf(List<ColUnit> units) {
        return units.stream().map(ColUnit::column).toList();
    }

    /** {@code eval_order}: both without ORDER BY, or the same ORDER BY and a LIMIT on both or on neither. */
    private static boolean orderMatches(Sql p, Sql g) {
        if (p.orderBy() == null && g.orderBy() == null) {
            return true;
        }
        return p.orderBy() != null && g.orderBy() != null && p.orderBy().equals(g.orderBy())
                && (p.limit() == null) == (g.limit() == null);
    }

    /** {@code eval_nested}: both absent, or both present and matching. */
    private static boolean nestedMatches(Sql p, Sql g) {
        if (p == null || g == null) {
            return p == g;
        }
        return exactMatch(p, g);
    }

    /** {@code get_keywords}. */
    private static Set<String> keywords(Sql s) {
        Set<String> k = new HashSet<>();
        if (!s.where().isEmpty()) {
            k.add("where");
        }
        if (!s.groupBy().isEmpty()) {
            k.add("group");
        }
        if (!s.having().isEmpty()) {
            k.add("having");
        }
        if (s.orderBy() != null) {
            k.add(s.orderBy().direction());
            k.add("order");
        }
        if (s.limit() != null) {
            k.add("limit");
        }
        if (s.except() != null) {
            k.add("except");
        }
        if (s.union() != null) {
            k.add("union");
        }
        if (s.intersect() != null) {
            k.add("intersect");
        }
        List<Object> connectors = new ArrayList<>(connectors(s.joins()));
        connectors.addAll(connectors(s.where()));
        connectors.addAll(connectors(s.having()));
        if (connectors.contains("or")) {
            k.add("or");
        }
        List<Object> conds = new ArrayList<>(units(s.joins()));
        conds.addAll(units(s.where()));
        conds.addAll(units(s.having()));
        for (Object o : conds) {
            if (o instanceof CondUnit c) {
                if (c.not()) {
                    k.add("not");
                }
                if (c.op() == IN) {
                    k.add("in");
                }
                if (c.op() == LIKE) {
                    k.add("like");
                }
            }
        }
        return k;
    }

    /** {@code condition[::2]}. */
    private static List<Object> units(List<Object> condition) {
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < condition.size(); i += 2) {
            out.add(condition.get(i));
        }
        return out;
    }

    /** {@code condition[1::2]}. */
    private static List<Object> connectors(List<Object> condition) {
        List<Object> out = new ArrayList<>();
        for (int i = 1; i < condition.size(); i += 2) {
            out.add(condition.get(i));
        }
        return out;
    }

    private static <T> Map<T, Integer> multiset(List<T> items) {
        Map<T, Integer> counts = new HashMap<>();
        for (T t : items) {
            counts.merge(t, 1, Integer::sum);
        }
        return counts;
    }
}
