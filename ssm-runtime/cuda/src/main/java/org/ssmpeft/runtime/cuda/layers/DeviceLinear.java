package org.ssmpeft.runtime.cuda.layers;

import org.ssmpeft.runtime.cuda.driver.Cublas;

/**
 * The cpu backend's {@code Linear} on the device, through cuBLAS in true fp32 (the handle's pedantic math): the
 * projections y = x·Wᵀ + b of row-major activations and (out, in) weights, and their backward. Every matrix is
 * row-major with a row stride (ld, in elements); an operand that starts at a column is passed as its address plus
 * 4·column. Not thread-safe (one cuBLAS handle).
 * <pre>
 *   forward        y  = x·Wᵀ + b                (M, out)
 *   forwardAdd     y += scale · x·Wᵀ
 *   backwardInput  dx = or += scale · dy·W      (M, in)
 *   backwardWeight dW += scale · dyᵀ·x          (out, in)
 *   backwardBias   db += Σ_rows dy              (out)
 * </pre>
 */
public final class DeviceLinear {

    private final Cublas cublas;
    private final LayerKernels kernels;

    public DeviceLinear(Cublas cublas, LayerKernels kernels) {
        this.cublas = cublas;
        this.kernels = kernels;
    }

    public Cublas cublas() {
        return cublas;
    }

    /** x: (M, in) row stride ldx, w: (out, in), b: (out) or 0 -> y: (M, out) row stride ldy (assigned). */
    public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** x: (M, in) row stride ldx, w: (out, in) -> y: (M, out) row stride ldy += scale · x·Wᵀ. */
    public void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dy: (M, out) row stride lddy, w: (out, in) -> dx: (M, in) row stride lddx, = or += scale · dy·W. */
    public void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                              boolean accumulate) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dy: (M, out) row stride lddy, x: (M, in) row stride ldx -> dw: (out, in) (row stride in) += scale · dyᵀ·x. */
    public void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dy: (M, out) row stride lddy -> db: (out) += Σ_rows dy (deterministic order). */
    public void backwardBias(long db, long dy, int lddy, int m, int out) {
        throw new UnsupportedOperationException("layers branch");
    }
}
