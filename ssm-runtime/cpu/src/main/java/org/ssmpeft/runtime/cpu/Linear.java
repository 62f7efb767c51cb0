package org.ssmpeft.runtime.cpu;

/**
 * A dense layer, {@code y = x · Wᵀ + b}, the way torch.nn.Linear stores W: (out, in), row-major. The product is
 * {@link Gemm#abT}, whose outputs do not depend on how many rows are computed together (decode == prefill, bitwise).
 *
 * <p>Every product goes through {@link Gemm} (Vector API when the incubator module is present, plain Java otherwise),
 * with float[] buffers, row-major, explicit m / in / out, a row stride and a column offset where a matrix is a block
 * of a wider one; a scale other than 1 goes through a temporary:
 * <pre>
 *   forward        y  = x·Wᵀ + b                 (M, in) x (out, in)ᵀ -> (M, out)
 *   forwardAdd     y[:, off..] += s·x·Wᵀ          the low-rank update of a row block
 *   backwardInput  dx (=|+=) s·dy·W              (M, out) x (out, in) -> (M, in)
 *   backwardWeight dW += s·dyᵀ·x                 (M, out)ᵀ x (M, in) -> (out, in)
 *   backwardBias   db += Σ_rows dy
 * </pre>
 */
final class Linear {

    private Linear() {
    }

    // x: (M, in) with row stride ldx, w: (out, in), b: (out) or null -> y: (M, out)
    static void forward(Parallel par, float[] y, float[] x, int ldx, float[] w, float[] b, int m, int in, int out) {
        Gemm.abT(par, x, 0, ldx, w, 0, in, b, y, 0, out, m, out, in);
    }

    // x: (M, in) row stride ldx, w: (out, in) -> y: (M, ldy) columns [yOff, yOff + out) += scale · x·Wᵀ
    static void forwardAdd(Parallel par, float[] y, int yOff, int ldy, float[] x, int ldx, float[] w, float scale,
                           int m, int in, int out) {
        // x·Wᵀ through abT keeps every row's result independent of the other rows (decode == prefill, bitwise)
        float[] t = new float[Math.multiplyExact(m, out)];
        Gemm.abT(par, x, 0, ldx, w, 0, in, null, t, 0, out, m, out, in);
        for (int r = 0; r < m; r++) {
            int yr = r * ldy + yOff;
            int tr = r * out;
            for (int j = 0; j < out; j++) {
                y[yr + j] += scale * t[tr + j];
            }
        }
    }

    // dy: (M, lddy) columns [dyOff, dyOff + out), w: (out, in) -> dx: (M, in) row stride lddx, = or += scale · dy·W
    static void backwardInput(Parallel par, float[] dx, int lddx, float[] dy, int dyOff, int lddy, float[] w,
                              float scale, int m, int in, int out, boolean accumulate) {
        if (scale == 1f) {
            Gemm.ab(par, dy, dyOff, lddy, w, 0, in, dx, 0, lddx, m, out, in, accumulate);
            return;
        }
        float[] t = new float[Math.multiplyExact(m, in)];
        Gemm.ab(par, dy, dyOff, lddy, w, 0, in, t, 0, in, m, out, in, false);
        for (int r = 0; r < m; r++) {
            int xr = r * lddx;
            int tr = r * in;
            for (int k = 0; k < in; k++) {
                dx[xr + k] = (accumulate ? dx[xr + k] : 0f) + scale * t[tr + k];
            }
        }
    }

    // dy: (M, lddy) columns [dyOff, dyOff + out), x: (M, in) row stride ldx -> dw: (out, in) += scale · dyᵀ·x
    static void backwardWeight(Parallel par, float[] dw, float[] dy, int dyOff, int lddy, float[] x, int ldx,
                               float scale, int m, int in, int out) {
        if (scale == 1f) {
            Gemm.addAtB(par, dy, dyOff, lddy, x, 0, ldx, dw, 0, in, m, out, in);
            return;
        }
        float[] t = new float[Math.multiplyExact(out, in)];
        Gemm.addAtB(par, dy, dyOff, lddy, x, 0, ldx, t, 0, in, m, out, in);
        for (int i = 0; i < t.length; i++) {
            dw[i] += scale * t[i];
        }
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
