package org.ssmpeft.runtime.cpu;

/** Root-mean-square layer norm, Mamba's only norm: {@code y = w ⊙ x / sqrt(mean(x²) + eps)}. */
final class RmsNorm {

    private RmsNorm() {
    }

    // x: (M, d), w: (d) -> y: (M, d); the mean of squares is accumulated in double (torch: float32, pairwise)
    static void forward(Parallel par, float[] y, float[] x, float[] w, int m, int d, double eps) {
        par.forRange(m, d, 1 << 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                double ss = 0;
                for (int i = 0; i < d; i++) {
                    ss += (double) x[o + i] * x[o + i];
                }
                float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
                for (int i = 0; i < d; i++) {
                    y[o + i] = w[i] * (x[o + i] * inv);
                }
            }
        });
    }
}
