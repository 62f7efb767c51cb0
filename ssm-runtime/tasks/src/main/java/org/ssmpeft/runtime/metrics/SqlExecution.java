package org.ssmpeft.runtime.metrics;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.sqlite.ProgressHandler;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteOpenMode;

/**
 * Execution accuracy for text-to-SQL (Spider): run the predicted and the gold query on the same SQLite database and
 * count the prediction right when both denote the same result, {@code EX = (1/n) Σ_i [denote(ŷ_i) ≡ denote(y_i)]}.
 *
 * <p>Denotations are compared as the test-suite evaluation of Spider ({@code exec_eval.py}'s {@code result_eq}, Zhong
 * et al., 2020, which Spider's official {@code evaluation.py} calls for {@code etype exec}) does:
 * <ul>
 *   <li>order matters only when the gold query contains {@code "order by"} (a case-insensitive substring test, as
 *       there); then rows are compared as lists, otherwise as multisets;</li>
 *   <li>columns may come in any order: the results match when some permutation of the prediction's columns makes them
 *       equal, so column names and aliases never matter, only values;</li>
 *   <li>two empty results match whatever their columns; otherwise row counts and column counts must agree;</li>
 *   <li>values compare as Python compares what {@code sqlite3} returns: an integer equals a real of the same value
 *       ({@code 1 == 1.0}), text never equals a number, NULL equals NULL.</li>
 * </ul>
 *
 * <p>Safety: the database is opened read-only ({@code SQLITE_OPEN_READONLY} and {@code PRAGMA query_only}), without
 * extension loading; a query must be one SELECT (it starts with {@code SELECT} or {@code WITH} after comments, and
 * nothing but comments follows its first {@code ;}); each query runs under a deadline enforced by SQLite's progress
 * handler, and its result may hold at most {@code maxRows} rows. A prediction that breaks any of these, fails to
 * compile or run, counts as wrong; nothing here throws for a bad query.
 *
 * <p>Differences from the reference: the test-suite samples 20 rows to prune column permutations of results wider
 * than three columns, this class checks every row (the pruning only drops permutations that cannot match, so the
 * verdict is the same); the reference asserts that the gold query runs, here a failing gold is reported as
 * {@link Outcome#GOLD_FAILED} and counts as wrong; the reference has no row limit, and its timeout kills a process
 * rather than interrupting SQLite; Spider's original {@code eval_exec_match} (before the test-suite) compared
 * column-by-column values in row order, keyed by the parsed SELECT items, which this class does not reproduce.
 */
public final class SqlExecution implements AutoCloseable {

    /** What one prediction came to. */
    public enum Outcome {
        /** the prediction denotes the gold result */
        MATCH,
        /** both ran, the results differ */
        MISMATCH,
        /** the prediction is not a single SELECT statement */
        NOT_A_SELECT,
        /** the prediction failed to compile or run */
        PREDICTION_FAILED,
        /** the prediction ran past the deadline or past the row limit */
        PREDICTION_TOO_EXPENSIVE,
        /** the gold query is not a single SELECT, or failed, or ran too long: the example counts as wrong */
        GOLD_FAILED;

        public boolean isMatch() {
            return this == MATCH;
        }
    }

    /** An outcome with what went wrong ({@code ""} for a match or a plain mismatch). */
    public record Verdict(Outcome outcome, String detail) {
        public Verdict {
            Objects.requireNonNull(outcome, "outcome");
            Objects.requireNonNull(detail, "detail");
        }
    }

    /** The default per-query deadline. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** The default largest result a query may return. */
    public static final int DEFAULT_MAX_ROWS = 1_000_000;

    private static final int VM_STEPS_PER_CHECK = 1000;

    private final Path database;
    private final Connection connection;
    private final long timeoutNanos;
    private final int maxRows;
    private volatile long deadline;

    private SqlExecution(Path database, Connection connection, Duration timeout, int maxRows) {
        this.database = database;
        this.connection = connection;
        this.timeoutNanos = timeout.toNanos();
        this.maxRows = maxRows;
    }

    /** Opens {@code database} read-only with the default deadline and row limit. */
    public static SqlExecution open(Path database) throws SQLException {
        return open(database, DEFAULT_TIMEOUT, DEFAULT_MAX_ROWS);
    }

    /**
     * Opens {@code database} read-only.
     *
     * @throws IllegalArgumentException when the file does not exist or a limit is not positive
     * @throws SQLException             when SQLite cannot open it
     */
    public static SqlExecution open(Path database, Duration timeout, int maxRows) throws SQLException {
        if (!Files.isRegularFile(database)) {
            throw new IllegalArgumentException("no SQLite database at " + database.toAbsolutePath()
                    + "; give the path of an existing .sqlite file (Spider: database/<db_id>/<db_id>.sqlite)");
        }
        if (timeout.isNegative() || timeout.isZero() || maxRows <= 0) {
            throw new IllegalArgumentException("timeout and maxRows must be positive, got " + timeout + " and "
                    + maxRows);
        }
        SQLiteConfig config = new SQLiteConfig();
        config.setReadOnly(true);
        config.setOpenMode(SQLiteOpenMode.READONLY);
        config.enableLoadExtension(false);
        Connection connection = config.createConnection("jdbc:sqlite:" + database.toAbsolutePath());
        try (Statement s = connection.createStatement()) {
            s.execute("PRAGMA query_only = 1");
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
        SqlExecution execution = new SqlExecution(database, connection, timeout, maxRows);
        ProgressHandler.setHandler(connection, VM_STEPS_PER_CHECK, new ProgressHandler() {
            @Override
            protected int progress() {
                // non-zero makes SQLite stop the running statement with SQLITE_INTERRUPT
                return System.nanoTime() - execution.deadline > 0 ? 1 : 0;
            }
        });
        return execution;
    }

    public Path database() {
        return database;
    }

    /** Whether {@code predicted} denotes the same result as {@code gold} on this database. */
    public boolean matches(String predicted, String gold) {
        return evaluate(predicted, gold).outcome().isMatch();
    }

    /** Runs both queries and compares their denotations; never throws for a bad query. */
    public synchronized Verdict evaluate(String predicted, String gold) {
        Run goldRun = run(gold);
        if (goldRun.failure != null) {
            return new Verdict(Outcome.GOLD_FAILED, goldRun.failure.detail());
        }
        Run predictedRun = run(predicted);
        if (predictedRun.failure != null) {
            return predictedRun.failure;
        }
        boolean orderMatters = gold.toLowerCase(Locale.ROOT).contains("order by");
        return resultEquals(predictedRun.rows, goldRun.rows, orderMatters)
                ? new Verdict(Outcome.MATCH, "") : new Verdict(Outcome.MISMATCH, "");
    }

    /** Execution accuracy over parallel lists of predicted and gold queries, all on this database. */
    public double accuracy(List<String> predicted, List<String> gold) {
        Inputs.sameSize(predicted, gold, "predictions", "gold queries");
        int hits = 0;
        for (int i = 0; i < predicted.size(); i++) {
            if (matches(predicted.get(i), gold.get(i))) {
                hits++;
            }
        }
        return Inputs.fraction(hits, predicted.size());
    }

    /** {@code execution_accuracy} as a {@link Score}. */
    public Score toScore(List<String> predicted, List<String> gold) {
        return Score.of("execution_accuracy", accuracy(predicted, gold));
    }

    /** The rows a single SELECT returns, as compared (see the class comment); empty when it does not run. */
    public synchronized Optional<List<List<Object>>> denotation(String query) {
        Run r = run(query);
        return r.failure == null ? Optional.of(r.rows) : Optional.empty();
    }

    /**
     * The database's tables and their columns, lower-cased, in the database's order, as Spider's
     * {@code process_sql.get_schema} reads them ({@code sqlite_master}, then {@code PRAGMA table_info} per table).
     */
    public synchronized Map<String, List<String>> schema() throws SQLException {
        deadline = System.nanoTime() + timeoutNanos;
        Map<String, List<String>> out = new java.util.LinkedHashMap<>();
        List<String> tables = new ArrayList<>();
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT name FROM sqlite_master WHERE type='table'")) {
            while (rs.next()) {
                tables.add(rs.getString(1));
            }
        }
        for (String table : tables) {
            List<String> columns = new ArrayList<>();
            try (Statement s = connection.createStatement();
                 ResultSet rs = s.executeQuery("PRAGMA table_info(\"" + table.replace("\"", "\"\"") + "\")")) {
                while (rs.next()) {
                    columns.add(rs.getString("name").toLowerCase(Locale.ROOT));
                }
            }
            out.put(table.toLowerCase(Locale.ROOT), List.copyOf(columns));
        }
        return out;
    }

    @Override
    public synchronized void close() throws SQLException {
        connection.close();
    }

    // ---- running one query --------------------------------------------------------------------------------------

    private record Run(List<List<Object>> rows, Verdict failure) {
    }

    private Run run(String sql) {
        String single = SqlText.singleSelect(sql);
        if (single == null) {
            return new Run(List.of(), new Verdict(Outcome.NOT_A_SELECT, "not a single SELECT statement"));
        }
        deadline = System.nanoTime() + timeoutNanos;
        List<List<Object>> rows = new ArrayList<>();
        try (Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(single)) {
            ResultSetMetaData meta = rs.getMetaData();
            int columns = meta.getColumnCount();
            while (rs.next()) {
                if (rows.size() == maxRows) {
                    return new Run(List.of(), new Verdict(Outcome.PREDICTION_TOO_EXPENSIVE,
                            "more than " + maxRows + " rows"));
                }
                List<Object> row = new ArrayList<>(columns);
                for (int c = 1; c <= columns; c++) {
                    row.add(canonical(rs.getObject(c)));
                }
                rows.add(Collections.unmodifiableList(row));
            }
            return new Run(Collections.unmodifiableList(rows), null);
        } catch (SQLException | RuntimeException e) {
            if (System.nanoTime() - deadline > 0) {
                return new Run(List.of(), new Verdict(Outcome.PREDICTION_TOO_EXPENSIVE,
                        "stopped after " + Duration.ofNanos(timeoutNanos)));
            }
            return new Run(List.of(), new Verdict(Outcome.PREDICTION_FAILED, String.valueOf(e.getMessage())));
        }
    }

    /**
     * A value as Python's {@code sqlite3} would hand it over, up to equality: integers as {@link Long}, a real with an
     * integral value as the same {@link Long} (Python's {@code 1 == 1.0} and equal hashes), other reals as
     * {@link Double} ({@code -0.0} as {@code 0}), text as {@link String}, blobs as a read-only {@link ByteBuffer}
     * (compared by content), NULL as {@code null}.
     */
    static Object canonical(Object value) {
        return switch (value) {
            case null -> null;
            case Integer i -> (long) i;
            case Long l -> l;
            case Double d -> {
                if (d == Math.rint(d) && Math.abs(d) < 0x1p63) {
                    yield (long) (double) d;
                }
                yield d;
            }
            case Float f -> canonical((double) f);
            case byte[] bytes -> ByteBuffer.wrap(bytes.clone()).asReadOnlyBuffer();
            default -> value;
        };
    }

    // ---- comparing denotations (test-suite result_eq) -----------------------------------------------------------

    /**
     * Whether some permutation of the columns of {@code predicted} makes it equal to {@code gold}: as lists of rows
     * when {@code orderMatters}, otherwise as multisets of rows.
     */
    static boolean resultEquals(List<List<Object>> predicted, List<List<Object>> gold, boolean orderMatters) {
        if (predicted.isEmpty() && gold.isEmpty()) {
            return true;
        }
        if (predicted.size() != gold.size()) {
            return false;
        }
        int columns = gold.getFirst().size();
        if (predicted.getFirst().size() != columns) {
            return false;
        }
        // gold plays result1 and the prediction result2, as in exec_eval (result_eq(g_denotation, p_denotation)):
        // candidates[i] = prediction columns whose every value occurs in gold column i
        List<Set<Object>> goldColumnValues = new ArrayList<>();
        for (int i = 0; i < columns; i++) {
            Set<Object> values = new HashSet<>();
            for (List<Object> row : gold) {
                values.add(row.get(i));
            }
            goldColumnValues.add(values);
        }
        List<List<Integer>> candidates = new ArrayList<>();
        for (int i = 0; i < columns; i++) {
            List<Integer> ok = new ArrayList<>();
            for (int j = 0; j < columns; j++) {
                boolean all = true;
                for (List<Object> row : predicted) {
                    if (!goldColumnValues.get(i).contains(row.get(j))) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    ok.add(j);
                }
            }
            if (ok.isEmpty()) {
                return false;
            }
            candidates.add(ok);
        }
        Map<List<Object>, Integer> goldCounts = orderMatters ? Map.of() : counts(gold);
        return searchPermutation(new int[columns], new boolean[columns], 0, candidates, predicted, gold,
                goldCounts, orderMatters);
    }

    private static boolean searchPermutation(int[] perm, boolean[] used, int position, List<List<Integer>> candidates,
                                             List<List<Object>> predicted, List<List<Object>> gold,
                                             Map<List<Object>, Integer> goldCounts, boolean orderMatters) {
        if (position == perm.length) {
            List<List<Object>> permuted = new ArrayList<>(predicted.size());
            for (List<Object> row : predicted) {
                List<Object> p = new ArrayList<>(perm.length);
                for (int column : perm) {
                    p.add(row.get(column));
                }
                permuted.add(p);
            }
            return orderMatters ? permuted.equals(gold) : counts(permuted).equals(goldCounts);
        }
        for (int column : candidates.get(position)) {
            if (!used[column]) {
                used[column] = true;
                perm[position] = column;
                if (searchPermutation(perm, used, position + 1, candidates, predicted, gold, goldCounts,
                        orderMatters)) {
                    return true;
                }
                used[column] = false;
            }
        }
        return false;
    }

    private static Map<List<Object>, Integer> counts(List<List<Object>> rows) {
        Map<List<Object>, Integer> counts = new HashMap<>();
        for (List<Object> row : rows) {
            counts.merge(row, 1, Integer::sum);
        }
        return counts;
    }
}
