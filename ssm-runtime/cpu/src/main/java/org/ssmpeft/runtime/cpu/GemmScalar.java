package org.ssmpeft.runtime.cpu;

/**
 * The plain-Java path of {@link Gemm}, used when the Vector API module is absent. {@link #abT} keeps one sequential
 * sum over K per output element in every tile shape; {@link #nn} leaves its inner loop to the JIT's auto-vectoriser.
 */
final class GemmScalar {

    private static final int ROWS = 4;
    private static final int COLS = 64;
    private static final long SERIAL_FLOPS = 1 << 16;

    private GemmScalar() {
    }

    // C (M, N) = A (M, K) · Bᵀ + bias, B (N, K), bias (N) or null
    static void abT(Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias,
                    float[] c, int cOff, int ldc, int m, int n, int k) {
        if ((long) m * n * k < SERIAL_FLOPS) {
            abTTile(a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, k, 0, m, 0, n);
            return;
        }
        int rowTiles = (m + ROWS - 1) / ROWS;
        int colTiles = (n + COLS - 1) / COLS;
        par.forEach(rowTiles * colTiles, t -> {
            int r0 = (t / colTiles) * ROWS;
            int c0 = (t % colTiles) * COLS;
            abTTile(a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, k, r0, Math.min(m, r0 + ROWS), c0,
                    Math.min(n, c0 + COLS));
        });
    }

    private static void abTTile(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias, float[] c,
                                int cOff, int ldc, int k, int r0, int r1, int c0, int c1) {
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int a0 = aOff + r * lda;
            int a1 = a0 + lda;
            int a2 = a1 + lda;
            int a3 = a2 + lda;
            for (int j = c0; j < c1; j++) {
                int bj = bOff + j * ldb;
                float s0 = 0f;
                float s1 = 0f;
                float s2 = 0f;
                float s3 = 0f;
                for (int p = 0; p < k; p++) {
                    float bp = b[bj + p];
                    s0 += a[a0 + p] * bp;
                    s1 += a[a1 + p] * bp;
                    s2 += a[a2 + p] * bp;
                    s3 += a[a3 + p] * bp;
                }
                float bias0 = bias == null ? 0f : bias[j];
                int cj = cOff + r * ldc + j;
                c[cj] = s0 + bias0;
                c[cj + ldc] = s1 + bias0;
                c[cj + 2 * ldc] = s2 + bias0;
                c[cj + 3 * ldc] = s3 + bias0;
            }
        }
        // Leftover rows, 4 outputs at a time: the same sequential sum over K per output as above.
        for (; r < r1; r++) {
            int ar = aOff + r * lda;
            int cr = cOff + r * ldc;
            int j = c0;
            for (; j + 4 <= c1; j += 4) {
                int b0 = bOff + j * ldb;
                int b1 = b0 + ldb;
                int b2 = b1 + ldb;
                int b3 = b2 + ldb;
                float s0 = 0f;
                float s1 = 0f;
                float s2 = 0f;
                float s3 = 0f;
                for (int p = 0; p < k; p++) {
                    float ap = a[ar + p];
                    s0 += ap * b[b0 + p];
                    s1 += ap * b[b1 + p];
                    s2 += ap * b[b2 + p];
                    s3 += ap * b[b3 + p];
                }
                c[cr + j] = s0 + (bias == null ? 0f : bias[j]);
                c[cr + j + 1] = s1 + (bias == null ? 0f : bias[j + 1]);
                c[cr + j + 2] = s2 + (bias == null ? 0f : bias[j + 2]);
                c[cr + j + 3] = s3 + (bias == null ? 0f : bias[j + 3]);
            }
            for (; j < c1; j++) {
                int bj = bOff + j * ldb;
                float s0 = 0f;
                for (int p = 0; p < k; p++) {
                    s0 += a[ar + p] * b[bj + p];
                }
                c[cr + j] = s0 + (bias == null ? 0f : bias[j]);
            }
        }
    }

    private static final int NN_ROWS = 16;
    private static final int NN_COLS = 256;
    private static final int NN_DEPTH = 256;

    /**
     * {@code C[i, j] (+)= Σ_p A(i, p) · B[p, j]} for i < rows, j < cols, p < depth, with
     * {@code A(i, p) = a[aOff + i * ars + p * aps]}, B and C row-major with row strides ldb and ldc.
     */
    static void nn(Parallel par, float[] a, int aOff, int ars, int aps, float[] b, int bOff, int ldb, float[] c,
                   int cOff, int ldc, int rows, int cols, int depth, boolean accumulate) {
        int rowTiles = (rows + NN_ROWS - 1) / NN_ROWS;
        int colTiles = (cols + NN_COLS - 1) / NN_COLS;
        if ((long) rows * cols * depth < SERIAL_FLOPS) {
            nnTile(a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, depth, accumulate, 0, rows, 0, cols);
            return;
        }
        par.forEach(rowTiles * colTiles, t -> {
            int r0 = (t / colTiles) * NN_ROWS;
            int c0 = (t % colTiles) * NN_COLS;
            nnTile(a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, depth, accumulate, r0,
                    Math.min(rows, r0 + NN_ROWS), c0, Math.min(cols, c0 + NN_COLS));
        });
    }

    private static void nnTile(float[] a, int aOff, int ars, int aps, float[] b, int bOff, int ldb, float[] c,
                               int cOff, int ldc, int depth, boolean accumulate, int r0, int r1, int c0, int c1) {
        if (!accumulate) {
            for (int i = r0; i < r1; i++) {
                java.util.Arrays.fill(c, cOff + i * ldc + c0, cOff + i * ldc + c1, 0f);
            }
        }
        for (int p0 = 0; p0 < depth; p0 += NN_DEPTH) {
            int p1 = Math.min(depth, p0 + NN_DEPTH);
            for (int i = r0; i < r1; i++) {
                int ci = cOff + i * ldc;
                for (int p = p0; p < p1; p++) {
                    float aip = a[aOff + i * ars + p * aps];
                    int bp = bOff + p * ldb;
                    for (int j = c0; j < c1; j++) {
                        c[ci + j] += aip * b[bp + j];
                    }
                }
            }
        }
    }
}
