package org.ssmpeft.runtime.cpu;

/**
 * A dense layer, {@code y = x · Wᵀ + b}, the way torch.nn.Linear stores W: (out, in), row-major. Parallel over tiles
 * of (rows, output features); each tile reads one weight row once for up to 4 input rows.
 *
 * <p>The backward products are plain scalar parallel loops with simple signatures (float[] buffers, row-major, explicit
 * m / in / out, a row stride and a column offset where a matrix is a block of a wider one), so that faster kernels
 * can replace them one for one:
 * <pre>
 *   forward        y  = x·Wᵀ + b                 (M, in) x (out, in)ᵀ -> (M, out)
 *   forwardAdd     y[:, off..] += s·x·Wᵀ          the low-rank update of a row block
 *   backwardInput  dx (=|+=) s·dy·W              (M, out) x (out, in) -> (M, in)
 *   backwardWeight dW += s·dyᵀ·x                 (M, out)ᵀ x (M, in) -> (out, in)
 *   backwardBias   db += Σ_rows dy
 * </pre>
 */
final class Linear {

    private static final int ROWS = 4;
    private static final int COLS = 64;

    private Linear() {
    }

    // x: (M, in) with row stride ldx, w: (out, in), b: (out) or null -> y: (M, out)
    static void forward(Parallel par, float[] y, float[] x, int ldx, float[] w, float[] b, int m, int in, int out) {
        int rowTiles = (m + ROWS - 1) / ROWS;
        int colTiles = (out + COLS - 1) / COLS;
        long flops = (long) m * in * out;
        if (flops < 1 << 16) {
            tile(y, x, ldx, w, b, in, out, 0, m, 0, out);
            return;
        }
        par.forEach(rowTiles * colTiles, t -> {
            int r0 = (t / colTiles) * ROWS;
            int c0 = (t % colTiles) * COLS;
            tile(y, x, ldx, w, b, in, out, r0, Math.min(m, r0 + ROWS), c0, Math.min(out, c0 + COLS));
        });
    }

    private static void tile(float[] y, float[] x, int ldx, float[] w, float[] b, int in, int out, int r0, int r1,
                             int c0, int c1) {
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int x0 = r * ldx;
            int x1 = x0 + ldx;
            int x2 = x1 + ldx;
            int x3 = x2 + ldx;
            for (int j = c0; j < c1; j++) {
                int wj = j * in;
                float a0 = 0f;
                float a1 = 0f;
                float a2 = 0f;
                float a3 = 0f;
                for (int k = 0; k < in; k++) {
                    float wk = w[wj + k];
                    a0 += x[x0 + k] * wk;
                    a1 += x[x1 + k] * wk;
                    a2 += x[x2 + k] * wk;
                    a3 += x[x3 + k] * wk;
                }
                float bj = b == null ? 0f : b[j];
                y[r * out + j] = a0 + bj;
                y[(r + 1) * out + j] = a1 + bj;
                y[(r + 2) * out + j] = a2 + bj;
                y[(r + 3) * out + j] = a3 + bj;
            }
        }
        // Leftover rows: 4 output features at a time. Every output is one sequential sum over k in both paths,
        // so a row's result does not depend on how many rows are computed with it (decode == prefill, bitwise).
        for (; r < r1; r++) {
            int xr = r * ldx;
            int j = c0;
            for (; j + 4 <= c1; j += 4) {
                int w0 = j * in;
                int w1 = w0 + in;
                int w2 = w1 + in;
                int w3 = w2 + in;
                float a0 = 0f;
                float a1 = 0f;
                float a2 = 0f;
                float a3 = 0f;
                for (int k = 0; k < in; k++) {
                    float xk = x[xr + k];
                    a0 += xk * w[w0 + k];
                    a1 += xk * w[w1 + k];
                    a2 += xk * w[w2 + k];
                    a3 += xk * w[w3 + k];
                }
                y[r * out + j] = a0 + (b == null ? 0f : b[j]);
                y[r * out + j + 1] = a1 + (b == null ? 0f : b[j + 1]);
                y[r * out + j + 2] = a2 + (b == null ? 0f : b[j + 2]);
                y[r * out + j + 3] = a3 + (b == null ? 0f : b[j + 3]);
            }
            for (; j < c1; j++) {
                int wj = j * in;
                float a0 = 0f;
                for (int k = 0; k < in; k++) {
                    a0 += x[xr + k] * w[wj + k];
                }
                y[r * out + j] = a0 + (b == null ? 0f : b[j]);
            }
        }
    }

    private static final int BACK_ROWS = 4;
    private static final int BACK_OUT = 8;
    private static final int BACK_IN = 256;

    // x: (M, in) row stride ldx, w: (out, in) -> y: (M, ldy) columns [yOff, yOff + out) += scale · x·Wᵀ
    static void forwardAdd(Parallel par, float[] y, int yOff, int ldy, float[] x, int ldx, float[] w, float scale,
                           int m, int in, int out) {
        // one sequential sum per output element: the result of a row does not depend on the other rows
        par.forRange(m, (long) in * out, 1 << 15, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xr = r * ldx;
                int yr = r * ldy + yOff;
                for (int j = 0; j < out; j++) {
                    int wj = j * in;
                    float acc = 0f;
                    for (int k = 0; k < in; k++) {
                        acc += x[xr + k] * w[wj + k];
                    }
                    y[yr + j] += scale * acc;
                }
            }
        });
    }

    // dy: (M, lddy) columns [dyOff, dyOff + out), w: (out, in) -> dx: (M, in) row stride lddx, = or += scale · dy·W
    static void backwardInput(Parallel par, float[] dx, int lddx, float[] dy, int dyOff, int lddy, float[] w,
                              float scale, int m, int in, int out, boolean accumulate) {
        int tiles = (m + BACK_ROWS - 1) / BACK_ROWS;
        par.forRange(tiles, (long) BACK_ROWS * in * out, 1 << 16, (t0, t1) -> {
            float[] acc = new float[BACK_ROWS * in];
            for (int t = t0; t < t1; t++) {
                int r0 = t * BACK_ROWS;
                int rows = Math.min(BACK_ROWS, m - r0);
                java.util.Arrays.fill(acc, 0f);
                if (rows == BACK_ROWS) {
                    // four rows share each load of a weight row
                    int g0 = r0 * lddy + dyOff;
                    int g1 = g0 + lddy;
                    int g2 = g1 + lddy;
                    int g3 = g2 + lddy;
                    for (int j = 0; j < out; j++) {
                        int wj = j * in;
                        float a0 = dy[g0 + j];
                        float a1 = dy[g1 + j];
                        float a2 = dy[g2 + j];
                        float a3 = dy[g3 + j];
                        for (int k = 0; k < in; k++) {
                            float wk = w[wj + k];
                            acc[k] += a0 * wk;
                            acc[in + k] += a1 * wk;
                            acc[2 * in + k] += a2 * wk;
                            acc[3 * in + k] += a3 * wk;
                        }
                    }
                } else {
                    for (int j = 0; j < out; j++) {
                        int wj = j * in;
                        for (int q = 0; q < rows; q++) {
                            float g = dy[(r0 + q) * lddy + dyOff + j];
                            int aq = q * in;
                            for (int k = 0; k < in; k++) {
                                acc[aq + k] += g * w[wj + k];
                            }
                        }
                    }
                }
                for (int q = 0; q < rows; q++) {
                    int xr = (r0 + q) * lddx;
                    int aq = q * in;
                    if (accumulate) {
                        for (int k = 0; k < in; k++) {
                            dx[xr + k] += scale * acc[aq + k];
                        }
                    } else {
                        for (int k = 0; k < in; k++) {
                            dx[xr + k] = scale * acc[aq + k];
                        }
                    }
                }
            }
        });
    }

    // dy: (M, lddy) columns [dyOff, dyOff + out), x: (M, in) row stride ldx -> dw: (out, in) += scale · dyᵀ·x
    static void backwardWeight(Parallel par, float[] dw, float[] dy, int dyOff, int lddy, float[] x, int ldx,
                               float scale, int m, int in, int out) {
        int outTiles = (out + BACK_OUT - 1) / BACK_OUT;
        int inTiles = (in + BACK_IN - 1) / BACK_IN;
        par.forRange(outTiles * inTiles, (long) m * BACK_OUT * BACK_IN, 1 << 16, (t0, t1) -> {
            float[] acc = new float[BACK_OUT * BACK_IN];
            for (int t = t0; t < t1; t++) {
                int j0 = (t / inTiles) * BACK_OUT;
                int j1 = Math.min(out, j0 + BACK_OUT);
                int k0 = (t % inTiles) * BACK_IN;
                int k1 = Math.min(in, k0 + BACK_IN);
                int width = k1 - k0;
                java.util.Arrays.fill(acc, 0f);
                for (int r = 0; r < m; r++) {
                    int xr = r * ldx + k0;
                    int gr = r * lddy + dyOff;
                    for (int j = j0; j < j1; j++) {
                        float g = dy[gr + j];
                        if (g == 0f) {
                            continue;
                        }
                        int aj = (j - j0) * BACK_IN;
                        for (int k = 0; k < width; k++) {
                            acc[aj + k] += g * x[xr + k];
                        }
                    }
                }
                for (int j = j0; j < j1; j++) {
                    int aj = (j - j0) * BACK_IN;
                    int wj = j * in + k0;
                    for (int k = 0; k < width; k++) {
                        dw[wj + k] += scale * acc[aj + k];
                    }
                }
            }
        });
    }

    // dy: (M, lddy) columns [dyOff, dyOff + out) -> db: (out) += Σ_rows dy
    static void backwardBias(float[] db, float[] dy, int dyOff, int lddy, int m, int out) {
        for (int r = 0; r < m; r++) {
            int gr = r * lddy + dyOff;
            for (int j = 0; j < out; j++) {
                db[j] += dy[gr + j];
            }
        }
    }
}
