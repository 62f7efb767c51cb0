package org.ssmpeft.runtime.metrics;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.ssmpeft.runtime.data.SpiderHardness;

/**
 * Spider's scores of predictions against the published gold queries, each example on its own database, as the
 * official evaluation reports them: {@code execution_accuracy} ({@link SqlExecution}, the paper's main number) and
 * {@code exact_set_match} ({@link SpiderExactSetMatch}: the clauses compared as sets, values ignored, against the
 * database's schema and foreign keys), each also per hardness level ({@link SpiderHardness}) where the levels are
 * known. The gold must be the query as published: the paper code's lower-cased label changes string literals
 * ({@code 'Chile'} to {@code 'chile'}) and so what it selects.
 */
public final class SpiderScores {

    private SpiderScores() {
    }

    /**
     * The scores of parallel lists: prediction i is run beside gold i on database i (each database opened once,
     * read-only); no foreign keys, no hardness levels.
     */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases) {
        return score(predicted, gold, databases, Collections.nCopies(predicted.size(), null));
    }

    /** As {@link #score(List, List, List, List, List)} without foreign keys. */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases,
                                            List<String> hardness) {
        return score(predicted, gold, databases, hardness, Collections.nCopies(predicted.size(), Map.of()));
    }

    /**
     * {@code execution_accuracy} and {@code exact_set_match}, then for each hardness level present
     * ({@code hardness} i may be null where it is unknown) {@code execution_accuracy_<level>} and
     * {@code exact_set_match_<level>}, easy to extra. {@code foreignKeys} i is database i's foreign-key map
     * ({@link org.ssmpeft.runtime.data.SpiderData#foreignKeys}).
     */
    public static Map<String, Double> score(List<String> predicted, List<String> gold, List<Path> databases,
                                            List<String> hardness, List<Map<String, String>> foreignKeys) {
        Inputs.sameSize(predicted, hardness, "predictions", "hardness levels");
        Inputs.sameSize(predicted, gold, "predictions", "gold queries");
        Inputs.sameSize(predicted, databases, "predictions", "databases");
        Inputs.sameSize(predicted, foreignKeys, "predictions", "foreign-key maps");
        Map<Path, SqlExecution> open = new HashMap<>();
        Map<Path, Map<String, List<String>>> tables = new HashMap<>();
        int executed = 0;
        int matched = 0;
        // per level: executed, matched, count
        Map<String, int[]> byLevel = new TreeMap<>(Comparator.comparingInt(SpiderHardness.LEVELS::indexOf));
        try {
            for (int i = 0; i < predicted.size(); i++) {
                Path db = databases.get(i);
                SqlExecution sql = open.get(db);
                if (sql == null) {
                    sql = SqlExecution.open(db);
                    open.put(db, sql);
                    tables.put(db, sql.schema());
                }
                boolean execution = sql.matches(predicted.get(i), gold.get(i));
                boolean exactSet = SpiderExactSetMatch.matches(predicted.get(i), gold.get(i),
                        new SpiderExactSetMatch.Schema(tables.get(db), foreignKeys.get(i)));
                executed += execution ? 1 : 0;
                matched += exactSet ? 1 : 0;
                String level = hardness.get(i);
                if (level != null && SpiderHardness.LEVELS.contains(level)) {
                    int[] c = byLevel.computeIfAbsent(level, k -> new int[3]);
                    c[0] += execution ? 1 : 0;
                    c[1] += exactSet ? 1 : 0;
                    c[2]++;
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
        out.put("execution_accuracy", Inputs.fraction(executed, predicted.size()));
        out.put("exact_set_match", Inputs.fraction(matched, predicted.size()));
        byLevel.forEach((level, c) -> {
            out.put("execution_accuracy_" + level, Inputs.fraction(c[0], c[2]));
            out.put("exact_set_match_" + level, Inputs.fraction(c[1], c[2]));
        });
        return out;
    }
}
