package org.ssmpeft.runtime.cpu;

/**
 * A dense layer, {@code y = x · Wᵀ + b}, the way torch.nn.Linear stores W: (out, in), row-major. Parallel over tiles
 * of (rows, output features); each tile reads one weight row once for up to 4 input rows.
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
}
