package org.ssmpeft.runtime.metrics;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Spider's scores of predictions against the published gold queries, each example on its own database:
 * {@code execution_accuracy} ({@link SqlExecution}, the paper's main number) and {@code exact_match}
 * ({@link SqlExactMatch}, a lower bound of Spider's exact-set match). The gold must be the query as published: the
 * paper code's lower-cased label changes string literals ({@code 'Chile'} to {@code 'chile'}) and so what it selects.
 * Execution accuracy per hardness level ({@link org.ssmpeft.runtime.data.SpiderHardness}) is added where the levels
 * are known.
 */
public final class SpiderScores {

    private SpiderScores() {
    }

    /**
     * The scores of parallel lists: prediction i is run beside gold i on database i (each database opened once,
     * read-only).
     */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases) {
        return score(predicted, gold, databases, java.util.Collections.nCopies(predicted.size(), null));
    }

    /**
     * As {@link #score(List, List, List)}, plus execution accuracy per hardness level
     * ({@code execution_accuracy_easy}, ... {@code _extra}, for the levels present; {@code hardness} i may be null
     * where it is unknown), as Spider's evaluation breaks it down.
     */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases,
                                            List<String> hardness) {
        Inputs.sameSize(predicted, hardness, "predictions", "hardness levels");
        Inputs.sameSize(predicted, gold, "predictions", "gold queries");
        Inputs.sameSize(predicted, databases, "predictions", "databases");
        Map<Path, SqlExecution> open = new HashMap<>();
        int hits = 0;
        Map<String, int[]> byLevel = new java.util.TreeMap<>(java.util.Comparator.comparingInt(
                org.ssmpeft.runtime.data.SpiderHardness.LEVELS::indexOf));
        try {
            for (int i = 0; i < predicted.size(); i++) {
                Path db = databases.get(i);
                SqlExecution sql = open.get(db);
                if (sql == null) {
                    sql = SqlExecution.open(db);
                    open.put(db, sql);
                }
                boolean match = sql.matches(predicted.get(i), gold.get(i));
                if (match) {
                    hits++;
                }
                String level = hardness.get(i);
                if (level != null && org.ssmpeft.runtime.data.SpiderHardness.LEVELS.contains(level)) {
                    int[] c = byLevel.computeIfAbsent(level, k -> new int[2]);
                    c[0] += match ? 1 : 0;
                    c[1]++;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open a Spider database: " + e.getMessage(), e);
        } finally {
            for (SqlExecution s : open.values()) {
                try {
                    s.close();
                } catch (SQLException ignored) {
                    // read-only: nothing to lose
                }
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("execution_accuracy", Inputs.fraction(hits, predicted.size()));
        out.put("exact_match", SqlExactMatch.score(predicted, gold));
        byLevel.forEach((level, c) -> out.put("execution_accuracy_" + level, Inputs.fraction(c[0], c[1])));
        return out;
    }
}
