package org.ssmpeft.examples.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.io.CrashPoints;

/**
 * The child of {@link CompareResultsKillTest}: rewrites compare.json ({@link CompareResults#write}, what
 * {@code peft compare --out} writes after each method) version after version, printing {@code saved V} after each.
 * Version v has 1 + v % 7 rows of 200 methods' worth of text, every number in it v.
 */
public final class CompareResultsProcess {

    private CompareResultsProcess() {
    }

    static List<CompareResults.Row> rows(int v) {
        List<CompareResults.Row> rows = new ArrayList<>();
        for (int i = 0; i < 200 * (1 + v % 7); i++) {
            rows.add(new CompareResults.Row("method-" + i, v, v, Map.of("accuracy", (double) v, "f1", (double) v), v,
                    v, null, v));
        }
        return rows;
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int first = Integer.parseInt(args[1]);
        if (Integer.parseInt(args[2]) > 0) {
            CrashPoints.haltAt(Integer.parseInt(args[2]));
        }
        for (int v = first; ; v++) {
            CompareResults.write(file, Map.of("version", v), rows(v), List.of("| version " + v + " |"));
            System.out.println("saved " + v);
            System.out.flush();
        }
    }
}
