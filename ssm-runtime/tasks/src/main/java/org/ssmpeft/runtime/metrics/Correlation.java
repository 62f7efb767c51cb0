package org.ssmpeft.runtime.metrics;

import java.util.Arrays;
import java.util.List;

/**
 * The regression metrics of GLUE STS-B as HF {@code evaluate.load("glue", "stsb")} computes them through SciPy:
 * {@code pearson} ({@code scipy.stats.pearsonr}) and {@code spearmanr} ({@code scipy.stats.spearmanr}, the Pearson
 * correlation of the ranks, tied values sharing the average of their ranks).
 *
 * <p>Undefined values are 0, where SciPy gives {@code nan}: fewer than two pairs, or either side constant (zero
 * variance). So a model that always generates the same number scores 0, as Classification's metrics settle their
 * undefined cases, and the tables and the ranking of {@code compare} stay numeric.
 */
public final class Correlation {

    private Correlation() {
    }

    /**
     * {@code r = Σ (x_i − x̄)(y_i − ȳ) / sqrt(Σ (x_i − x̄)² · Σ (y_i − ȳ)²)}; 0 when undefined. The means are
     * subtracted first (two passes), which keeps the sums exact enough for scores within [0, 5].
     */
    public static double pearson(double[] x, double[] y) {
        Inputs.sameLength(x, y);
        int n = x.length;
        if (n < 2) {
            return 0.0;
        }
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = x[i] - mx;
            double dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) {
            return 0.0;
        }
        // SciPy clips to [-1, 1] against rounding
        return Math.max(-1.0, Math.min(1.0, sxy / Math.sqrt(sxx * syy)));
    }

    /** Spearman's rho: {@link #pearson} of {@link #ranks}{@code (x)} and {@code ranks(y)}; 0 when undefined. */
    public static double spearman(double[] x, double[] y) {
        Inputs.sameLength(x, y);
        return pearson(ranks(x), ranks(y));
    }

    /**
     * The ranks 1..n of the values, ties given the mean of the ranks they span ({@code scipy.stats.rankdata}'s
     * {@code "average"}): {@code [10, 20, 20, 5] -> [2, 3.5, 3.5, 1]}.
     */
    public static double[] ranks(double[] values) {
        int n = values.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(values[a], values[b]));
        double[] ranks = new double[n];
        int start = 0;
        while (start < n) {
            int end = start + 1;
            while (end < n && values[order[end]] == values[order[start]]) {
                end++;
            }
            // positions start..end-1 hold ranks start+1..end, whose mean is (start + 1 + end) / 2
            double rank = (start + 1 + end) / 2.0;
            for (int k = start; k < end; k++) {
                ranks[order[k]] = rank;
            }
            start = end;
        }
        return ranks;
    }

    /** The GLUE scores of STS-B: {@code pearson} and {@code spearmanr}, evaluate's names. */
    public static List<Score> glueStsb(double[] predictions, double[] references) {
        return List.of(Score.of("pearson", pearson(predictions, references)),
                Score.of("spearmanr", spearman(predictions, references)));
    }
}
