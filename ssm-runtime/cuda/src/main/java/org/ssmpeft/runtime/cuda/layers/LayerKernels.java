package org.ssmpeft.runtime.cuda.layers;

import org.ssmpeft.runtime.cuda.driver.CudaContext;

/**
 * Launches the kernels of {@code kernels/layers.cu}: the model's non-matmul layers in float32, each the device twin
 * of a cpu primitive (named per method), forward and backward side by side. Matrices are row-major with row strides
 * in elements; token ids and targets are int32 device arrays. Reductions run in a fixed order (two-stage partial
 * sums where a column sums over many rows), so results are deterministic run to run.
 */
public final class LayerKernels {

    public LayerKernels(CudaContext context) {
        throw new UnsupportedOperationException("layers branch");
    }

    public CudaContext context() {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- embedding (cpu: ModelParts.embed / embeddingBackward) ---------------------------------------------------

    /**
     * h: (B, P + T, d) = [prompt; emb[tokens]] per batch row; tokens: (B, T) int32, prompt: (P, d) or 0 (P = 0),
     * emb: (V, d).
     */
    public void embed(long h, long tokens, long prompt, long emb, int batch, int promptLength, int tokensPerRow,
                      int dModel) {
        throw new UnsupportedOperationException("layers branch");
    }

    /**
     * dHidden: (B, P + T, d) -> dEmb: (V, d) += at the tokens' rows (or 0 to skip; rows of repeated tokens summed in
     * token order), dPrompt: (P, d) = Σ_b dHidden's first P rows of batch row b (or 0 to skip).
     */
    public void embeddingBackward(long dEmb, long dPrompt, long dHidden, long tokens, int batch, int promptLength,
                                  int tokensPerRow, int dModel, int vocab) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- RMSNorm (cpu: RmsNorm) ------------------------------------------------------------------------------------

    /** x: (M, d), w: (d) -> y: (M, d) = w ⊙ x / sqrt(mean(x²) + eps), the mean of squares in double. */
    public void rmsNormForward(long y, long x, long w, int m, int d, double eps) {
        throw new UnsupportedOperationException("layers branch");
    }

    /**
     * With r = 1/sqrt(mean(x²) + eps): dx = r·(w⊙dy) − x·r³/d·Σ_j w_j dy_j x_j (assigned, or added when
     * accumulate; 0 to skip), dw (d) += Σ_rows dy ⊙ (x·r) (0 to skip).
     */
    public void rmsNormBackward(long dx, long dw, long dy, long x, long w, int m, int d, double eps,
                                boolean accumulate) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- causal depthwise conv1d + silu (cpu: CausalConv1d) -------------------------------------------------------

    /**
     * x: (B, L, D) row stride ldx, w: (D, K), bias: (D) or 0, state: (B, D, K) in/out (the cpu layout: the conv
     * continues from it, and holds the last inputs afterwards, exactly as CausalConv1d.forwardSilu) -> pre: (B, L, D)
     * the pre-activation (or 0), y: (B, L, D) = silu(pre).
     */
    public void convSiluForward(long y, long pre, long x, int ldx, long w, long bias, long state, int batch, int len,
                                int channels, int kernel) {
        throw new UnsupportedOperationException("layers branch");
    }

    /**
     * From a zero conv state (training): dp_t = dy_t·silu'(p_t); dx_s = Σ_j dp_{s+K-1-j}·w[j] into dx (B, L, D) row
     * stride lddx (assigned); dw (D, K) += Σ_t dp_t·x[t+1+j-K] (0 to skip); dBias (D) += Σ_t dp_t (0 to skip).
     */
    public void convSiluBackward(long dx, int lddx, long dw, long dBias, long dy, long pre, long x, int ldx, long w,
                                 int batch, int len, int channels, int kernel) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- softplus (cpu: Activations.softplus / softplusGradFromOutput) --------------------------------------------

    /** x (n) <- softplus(x) in place, as Activations.softplus (threshold 20). */
    public void softplusInPlace(long x, long n) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dx (n) *= softplus'(pre) computed from the output y = softplus(pre), as Activations.softplusGradFromOutput. */
    public void softplusBackwardInPlace(long dx, long y, long n) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- cross-entropy (cpu: CrossEntropy.forwardBackward) --------------------------------------------------------

    /**
     * logits: (M, V), targets: (M) int32 (class or -100) -> rowLoss: (M) float, logsumexp(z) − z[y] per row (0 where
     * ignored; the caller sums in double and divides by count); dlogits: (M, V) = (softmax(z) − onehot(y)) / count at
     * rows with a target, 0 elsewhere (or 0 to skip). May be the same buffer as logits (overwritten in place).
     */
    public void crossEntropy(long dlogits, long rowLoss, long logits, long targets, int m, int vocab, int count) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- DoRA's gain (cpu: ModelParts.lowRank / lowRankBackward with HookPlan.Dora) -------------------------------

    /** y: (M, out) row stride ldy += (g − 1) ⊙ base + g ⊙ scale·u, g (out) per column; base, u: (M, out). */
    public void doraForward(long y, int ldy, long base, long u, long gain, float scale, int m, int out) {
        throw new UnsupportedOperationException("layers branch");
    }

    /**
     * dy: (M, out) row stride lddy -> dMagnitude (out) = Σ_rows dy ⊙ (base + scale·u) / norm (assigned),
     * scaled (M, out) = g ⊙ dy, rest (M, out) = (g − 1) ⊙ dy.
     */
    public void doraBackward(long dMagnitude, long scaled, long rest, long dy, int lddy, long base, long u, long gain,
                             long norm, float scale, int m, int out) {
        throw new UnsupportedOperationException("layers branch");
    }

    // --- rows, sums and elementwise -------------------------------------------------------------------------------

    /** dst (rows, cols) row stride ldDst <- src (rows, cols) row stride ldSrc (floats). */
    public void copy2d(long dst, int ldDst, long src, int ldSrc, int rows, int cols) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dst (n floats) <- value. */
    public void fill(long dst, long n, float value) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** y (n) += scale · x (n). */
    public void addScaled(long y, long x, float scale, long n) {
        throw new UnsupportedOperationException("layers branch");
    }

    /**
     * dst (rows, cols) row stride cols, = or += (accumulate) Σ_{b < batches} src[b·batchStride + r·ld + c], summed
     * in b order: bias gradients (batches = M rows, rows 1), a prompt's or prefix's gradient summed over batch rows.
     */
    public void sumBatches(long dst, long src, int batches, long batchStride, int rows, int cols, int ld,
                           boolean accumulate) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** state (B, S) += v (S) for every batch row (an initial state added to a fresh state). */
    public void addBroadcast(long state, long v, int batch, int size) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** negA (n) = -exp(aLog) (A = -exp(A_log)), in float as the cpu's (float) -Math.exp. */
    public void negExp(long negA, long aLog, long n) {
        throw new UnsupportedOperationException("layers branch");
    }

    /** dst (n) += a ⊙ b (dA_log += dA ⊙ A). */
    public void mulAdd(long dst, long a, long b, long n) {
        throw new UnsupportedOperationException("layers branch");
    }
}
