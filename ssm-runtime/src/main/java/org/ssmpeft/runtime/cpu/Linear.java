package org.ssmpeft.runtime.cpu;

/**
 * A dense layer, {@code y = x · Wᵀ + b}, the way torch.nn.Linear stores W: (out, in), row-major. The product is
 * {@link Gemm#abT}, whose outputs do not depend on how many rows are computed together (decode == prefill, bitwise).
 */
final class Linear {

    private Linear() {
    }

    // x: (M, in) with row stride ldx, w: (out, in), b: (out) or null -> y: (M, out)
    static void forward(Parallel par, float[] y, float[] x, int ldx, float[] w, float[] b, int m, int in, int out) {
        Gemm.abT(par, x, 0, ldx, w, 0, in, b, y, 0, out, m, out, in);
    }
}
