package org.ssmpeft.runtime.cuda.model;

/**
 * The contract of {@link org.ssmpeft.runtime.cuda.layers.LayerKernels} (the model's non-matmul layers, each the
 * device twin of a cpu primitive, same argument order, device addresses as long, 0 = absent) as the model calls it;
 * see that class for each method's meaning. On the GPU it is LayerKernels itself ({@link CudaDevice}); the package's
 * tests also run the model on a host emulation of the same contract.
 */
interface LayerOps {

    void embed(long h, long tokens, long prompt, long emb, int batch, int promptLength, int tokensPerRow,
               int dModel);

    void embeddingBackward(long dEmb, long dPrompt, long dHidden, long tokens, int batch, int promptLength,
                           int tokensPerRow, int dModel, int vocab);

    void rmsNormForward(long y, long x, long w, int m, int d, double eps);

    void rmsNormBackward(long dx, long dw, long dy, long x, long w, int m, int d, double eps, boolean accumulate);

    void convSiluForward(long y, long pre, long x, int ldx, long w, long bias, long state, int batch, int len,
                         int channels, int kernel);

    void convSiluBackward(long dx, int lddx, long dw, long dBias, long dy, long pre, long x, int ldx, long w,
                          int batch, int len, int channels, int kernel);

    void softplusInPlace(long x, long n);

    void dtSoftplus(long dt, long xdbl, int ld, long w, long b, int m, int r, int d);

    void softplusBackwardInPlace(long dx, long y, long n);

    // the fused decode step's few-row kernels (DecodeKernels: at most DecodeKernels.MAX_ROWS rows)

    /** y (M, ldy) = RMSNorm(x)·Wᵀ + b; the normalised rows to xn (M, in) when it is not 0. */
    void normProduct(long y, int ldy, long xn, long x, int ldx, long g, double eps, long w, long bias, int m, int in,
                     int out);

    /** y (M, ldy) += x·Wᵀ (the residual stream's out_proj, beta = 1). */
    void productAdd(long y, int ldy, long x, int ldx, long w, int m, int in, int out);

    /**
     * xc (M, D) = silu(conv step of x), the conv state (M, D, K) advanced, xdbl (M, XW) = xc·W_xᵀ through part
     * (DecodeKernels.partBlocks(D), M, XW), the partial products, and counter (one uint32, 0, left at 0).
     */
    void convXProj(long xc, long part, long xdbl, long counter, long x, int ldx, long cw, long cb, long state,
                   long wx, int m, int d, int kernel, int xw);

    void crossEntropy(long dlogits, long rowLoss, long logits, long targets, int m, int vocab, int count);

    /** work: LayerKernels.topTokensWorkFloats floats (or 0: one block per row). */
    void topTokens(long ids, long logp, long logits, int rows, int vocab, int n, long excluded, long work);

    void doraForward(long y, int ldy, long base, long u, long gain, float scale, int m, int out);

    void doraBackward(long dMagnitude, long scaled, long rest, long dy, int lddy, long base, long u, long gain,
                      long norm, float scale, int m, int out);

    /** dst (rows, cols) bf16 contiguous (from {@link DeviceMemory.Arena#bf16}) <- src (rows, cols) row stride ldSrc. */
    void toBf16(long dst, long src, int ldSrc, int rows, int cols);

    void copy2d(long dst, int ldDst, long src, int ldSrc, int rows, int cols);

    void fill(long dst, long n, float value);

    void addScaled(long y, long x, float scale, long n);

    void sumBatches(long dst, long src, int batches, long batchStride, int rows, int cols, int ld,
                    boolean accumulate);

    void addBroadcast(long state, long v, int batch, int size);

    /** dst (n, size) row i <- src row rows[i]; rows: n int32 on the device. */
    void gatherRows(long dst, long src, long rows, int n, long size);

    void negExp(long negA, long aLog, long n);

    void mulAdd(long dst, long a, long b, long n);
}
