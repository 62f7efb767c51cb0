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
 * Spider's per-hardness breakdown needs its SQL parser and is not computed here.
 */
public final class SpiderScores {

    private SpiderScores() {
    }

    /**
     * The scores of parallel lists: prediction i is run beside gold i on database i (each database opened once,
     * read-only).
     */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases) {
        Inputs.sameSize(predicted, gold, "predictions", "gold queries");
        Inputs.sameSize(predicted, databases, "predictions", "databases");
        Map<Path, SqlExecution> open = new HashMap<>();
        int hits = 0;
        try {
            for (int i = 0; i < predicted.size(); i++) {
                Path db = databases.get(i);
                SqlExecution sql = open.get(db);
                if (sql == null) {
                    sql = SqlExecution.open(db);
                    open.put(db, sql);
                }
                if (sql.matches(predicted.get(i), gold.get(i))) {
                    hits++;
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
        return out;
    }
}
