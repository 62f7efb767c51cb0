package org.ssmpeft.runtime.backend;

import java.util.Arrays;

/**
 * The best {@code n} tokens of each row's next-token distribution, best first, with their log-probabilities: what a
 * decoder returns per step instead of the (B, V) logits. Ranked by log p (equivalently by logit), ties to the lower
 * token id; an excluded token (a stop token masked before the minimum length) is never ranked, but it stays in the
 * normalisation: {@code log p_v = logit_v − log Σ_all exp(logit)}.
 *
 * @param rows     B
 * @param n        tokens per row
 * @param ids      (B, n) token ids
 * @param logProbs (B, n) their log-probabilities
 */
public record TopTokens(int rows, int n, int[] ids, double[] logProbs) {

    public TopTokens {
        if (rows < 0 || n <= 0 || ids.length != rows * n || logProbs.length != ids.length) {
            throw new IllegalArgumentException("top tokens: expected (" + rows + ", " + n + ") ids and log-probs,"
                    + " found " + ids.length + " and " + logProbs.length);
        }
    }

    /** The {@code i}-th best token of row {@code row}. */
    public int id(int row, int i) {
        return ids[row * n + i];
    }

    /** Its log-probability. */
    public double logProb(int row, int i) {
        return logProbs[row * n + i];
    }

    /**
     * The top {@code n} of each row of {@code logits} (rows, vocab) on the host: log-softmax in float64 (the max, then
     * Σ exp(x − max) in index order), ranked as above. Fails where fewer than n tokens may be ranked.
     */
    public static TopTokens of(float[] logits, int rows, int vocab, int n, int[] excluded) {
        check(vocab, n, excluded);
        boolean[] skip = new boolean[vocab];
        for (int e : excluded) {
            skip[e] = true;
        }
        int[] ids = new int[rows * n];
        double[] lp = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            int from = r * vocab;
            double lse = logSumExp(logits, from, vocab);
            int[] best = top(logits, from, vocab, n, skip);
            for (int i = 0; i < n; i++) {
                ids[r * n + i] = best[i];
                lp[r * n + i] = logits[from + best[i]] - lse;
            }
        }
        return new TopTokens(rows, n, ids, lp);
    }

    /** Checks a request's n and exclusions against the vocabulary, naming what is wrong (each decode step's). */
    public static void check(int vocab, int n, int[] excluded) {
        int[] sorted = excluded.clone(); // a handful of stop tokens: no vocabulary-sized array per step
        Arrays.sort(sorted);
        int distinct = 0;
        for (int i = 0; i < sorted.length; i++) {
            int e = sorted[i];
            if (e < 0 || e >= vocab) {
                throw new IllegalArgumentException("excluded token " + e + " is outside the vocabulary [0, " + vocab
                        + ")");
            }
            if (i == 0 || e != sorted[i - 1]) {
                distinct++;
            }
        }
        if (n <= 0 || n > vocab - distinct) {
            throw new IllegalArgumentException("asked for the best " + n + " tokens of a vocabulary of " + vocab
                    + " with " + distinct + " excluded; expected 1 to " + (vocab - distinct));
        }
    }

    /**
     * log Σ exp(x) of {@code x[from, from + n)} in float64: the max, then Σ exp(x − max) in index order (the cpu's
     * cross-entropy uses it too).
     */
    public static double logSumExp(float[] x, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[from + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[from + i] - max);
        }
        return max + Math.log(sum);
    }

    // the n largest of x[from, from + vocab) not skipped, best first, ties to the lower index (insertion into a
    // sorted list of n: n is small)
    private static int[] top(float[] x, int from, int vocab, int n, boolean[] skip) {
        int[] idx = new int[n];
        int size = 0;
        for (int v = 0; v < vocab; v++) {
            if (skip[v]) {
                continue;
            }
            float s = x[from + v];
            if (size == n && !(s > x[from + idx[n - 1]])) {
                continue;
            }
            int pos = size == n ? n - 1 : size++;
            while (pos > 0 && s > x[from + idx[pos - 1]]) {
                idx[pos] = idx[pos - 1];
                pos--;
            }
            idx[pos] = v;
        }
        return Arrays.copyOf(idx, size);
    }
}
