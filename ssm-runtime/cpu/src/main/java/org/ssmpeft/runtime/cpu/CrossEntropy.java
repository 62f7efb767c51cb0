package org.ssmpeft.runtime.cpu;

import org.ssmpeft.runtime.backend.TopTokens;

/**
 * Mean token cross-entropy over the positions that have a target, as {@code torch.nn.functional.cross_entropy} with
 * {@code ignore_index = -100}: {@code L = (1/T) Σ_t [logsumexp(z_t) − z_t[y_t]]}, T the number of targets.
 * Log-sum-exp in double.
 */
final class CrossEntropy {

    /** The label that marks a position without a target (PyTorch's default ignore_index). */
    static final int IGNORE_INDEX = -100;

    private CrossEntropy() {
    }

    /** Number of positions with a target. */
    static int count(int[] targets) {
        int n = 0;
        for (int y : targets) {
            if (y != IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    // logits: (M, V), targets: (M) (class index or IGNORE_INDEX) -> the mean loss (0 without targets);
    // dlogits: (M, V) = (softmax(z_t) − onehot(y_t)) / T at positions with a target, 0 elsewhere; or null
    static double forwardBackward(Parallel par, float[] dlogits, float[] logits, int[] targets, int m, int v) {
        int count = count(targets);
        double[] rowLoss = new double[m];
        par.forRange(m, 3L * v, 1 << 15, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * v;
                int y = targets[r];
                if (y == IGNORE_INDEX) {
                    if (dlogits != null) {
                        java.util.Arrays.fill(dlogits, o, o + v, 0f);
                    }
                    continue;
                }
                if (y < 0 || y >= v) {
                    throw new IllegalArgumentException("label " + y + " is outside the vocabulary [0, " + v
                            + ") and is not the ignore index " + IGNORE_INDEX);
                }
                double lse = TopTokens.logSumExp(logits, o, v);
                rowLoss[r] = lse - logits[o + y];
                if (dlogits != null) {
                    for (int i = 0; i < v; i++) {
                        double p = Math.exp(logits[o + i] - lse);
                        dlogits[o + i] = (float) ((i == y ? p - 1 : p) / count);
                    }
                }
            }
        });
        if (count == 0) {
            return 0.0;
        }
        double total = 0;
        for (double l : rowLoss) {
            total += l;
        }
        return total / count;
    }
}
