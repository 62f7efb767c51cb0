package org.ssmpeft.runtime.cuda.model;

/**
 * The contract of {@link org.ssmpeft.runtime.cuda.layers.DeviceLinear} (the projections y = x·Wᵀ + b of row-major
 * activations and (out, in) weights, and their backward, row strides in elements) as the model calls it; see that
 * class for each method. On the GPU it is DeviceLinear itself ({@link CudaDevice}); the package's tests also run the
 * model on a host emulation.
 * <pre>
 *   forward        y  = x·Wᵀ + b                (M, out)
 *   forwardAdd     y += scale · x·Wᵀ
 *   backwardInput  dx = or += scale · dy·W      (M, in)
 *   backwardWeight dW += scale · dyᵀ·x          (out, in)
 *   backwardBias   db += Σ_rows dy              (out)
 * </pre>
 */
interface ProductOps {

    void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out);

    void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out);

    void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                       boolean accumulate);

    void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out);

    void backwardBias(long db, long dy, int lddy, int m, int out);
}
