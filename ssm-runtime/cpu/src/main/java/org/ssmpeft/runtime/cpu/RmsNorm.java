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

    private static final int COLUMN_BLOCK = 64;

    // x: (M, d), w: (d), dy: (M, d) -> dx: (M, d) (= or +=, null to skip), dw: (d) += or null
    // with r = 1/sqrt(mean(x²) + eps): dx = r·(w⊙dy) − x·r³/d·Σ_j w_j dy_j x_j;  dw = Σ_rows dy ⊙ (x·r)
    static void backward(Parallel par, float[] dx, float[] dw, float[] dy, float[] x, float[] w, int m, int d,
                         double eps, boolean accumulate) {
        float[] inv = new float[m];
        par.forRange(m, d, 1 << 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                double ss = 0;
                for (int i = 0; i < d; i++) {
                    ss += (double) x[o + i] * x[o + i];
                }
                double rr = 1.0 / Math.sqrt(ss / d + eps);
                inv[r] = (float) rr;
                if (dx == null) {
                    continue;
                }
                double dot = 0;
                for (int i = 0; i < d; i++) {
                    dot += (double) w[i] * dy[o + i] * x[o + i];
                }
                double k = dot * rr * rr * rr / d;
                for (int i = 0; i < d; i++) {
                    float g = (float) (rr * w[i] * dy[o + i] - x[o + i] * k);
                    if (accumulate) {
                        dx[o + i] += g;
                    } else {
                        dx[o + i] = g;
                    }
                }
            }
        });
        if (dw != null) {
            int blocks = (d + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
            par.forEach(blocks, blk -> {
                int c0 = blk * COLUMN_BLOCK;
                int c1 = Math.min(d, c0 + COLUMN_BLOCK);
                for (int c = c0; c < c1; c++) {
                    double acc = 0;
                    for (int r = 0; r < m; r++) {
                        acc += (double) dy[r * d + c] * (x[r * d + c] * inv[r]);
                    }
                    dw[c] += (float) acc;
                }
            });
        }
    }
}
