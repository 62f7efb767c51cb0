package org.ssmpeft.runtime.cuda.layers;

import java.util.List;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaModule;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.driver.Kernel;

/**
 * Launches the kernels of {@code kernels/layers.cu}: the model's non-matmul layers in float32, each the device twin
 * of a cpu primitive (named per method), forward and backward side by side. Matrices are row-major with row strides
 * in elements; token ids and targets are int32 device arrays. Reductions run in a fixed order (two-stage partial
 * sums where a column sums over many rows), so results are deterministic run to run.
 *
 * <p>Arguments are checked before anything is queued (sizes non-negative, strides at least the width, required
 * buffers present); a call with nothing to do queues nothing. Some calls need scratch memory (partial sums, inverse
 * norms): it is owned here, grown on demand and released by {@link #close()}. Not thread-safe, like the stream it
 * queues on.
 */
public final class LayerKernels implements AutoCloseable {

    /** The widest causal conv (K) the conv kernels are compiled for. */
    public static final int MAX_CONV_KERNEL = 8;

    /** Rows per chunk of the two-stage column sums (RMSNorm's weight, DoRA's magnitude): fixed, so sums are too. */
    static final int ROWS_PER_CHUNK = 64;

    /** Time steps per thread of the conv kernels (CONV_TILE in the kernel file). */
    static final int CONV_TILE = 64;

    /** Column-owner buckets of the embedding's backward (blocks along y): more blocks, each token row one writer. */
    static final int EMBED_BUCKETS = 64;

    private static final int THREADS = 256;
    private static final int MAX_BLOCKS = 1 << 20;

    /** Every entry point of {@code layers.cu} (the CI compile test checks that each one compiles). */
    public static final List<String> ENTRY_POINTS = List.of("column_sum_finish", "embed", "embed_bwd", "rms_norm_fwd",
            "rms_norm_bwd_rows", "rms_norm_bwd_weight", "conv_silu_fwd", "conv_silu_step", "conv_state_update",
            "conv_silu_dp", "conv_silu_bwd", "conv_param_finish", "softplus_inplace", "dt_softplus",
            "softplus_bwd_inplace", "cross_entropy", "top_tokens", "top_tokens_part", "top_tokens_merge",
            "dora_fwd", "dora_bwd", "to_bf16_2d", "copy_2d", "fill", "add_scaled", "sum_batches", "add_broadcast",
            "gather_rows", "neg_exp",
            "mul_add");

    private final CudaContext context;
    private final CudaModule module;
    private DeviceArena scratchArena;
    private DeviceBuffer scratch;

    public LayerKernels(CudaContext context) {
        this.context = context;
        this.module = context.module("layers.cu", options());
    }

    /**
     * NVRTC options of {@code layers.cu} (the CI compile test uses the same): no fused multiply-add, so float
     * products and sums round as Java's do and the elementwise stages equal the cpu's bit for bit.
     */
    public static List<String> options() {
        return List.of("--fmad=false");
    }

    public CudaContext context() {
        return context;
    }

    /** Releases the scratch memory (after the stream has finished with it). */
    @Override
    public void close() {
        if (scratchArena != null) {
            context.syncStream();
            scratchArena.close();
            scratchArena = null;
            scratch = null;
        }
    }

    /** Scratch of at least {@code bytes}, valid until the next call (all work is ordered on one stream). */
    private long scratch(long bytes) {
        if (scratch == null || scratch.bytes() < bytes) {
            close(); // the stream may still read the old scratch: close waits for it
            scratchArena = context.arena();
            scratch = scratchArena.allocate(Math.max(bytes, 1 << 20));
        }
        return scratch.address();
    }

    private Kernel k(String name) {
        return module.kernel(name);
    }

    /** Blocks of a grid-stride launch over n elements. */
    private static int blocks(long n) {
        return (int) Math.min(MAX_BLOCKS, (n + THREADS - 1) / THREADS);
    }

    private void elementwise(String kernel, long n, Object... args) {
        if (n > 0) {
            k(kernel).launch(blocks(n), 1, 1, THREADS, 0, args);
        }
    }

    private static void positive(String call, String name, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(call + ": " + name + " = " + value + " is negative");
        }
    }

    private static void present(String call, String name, long address) {
        if (address == 0) {
            throw new IllegalArgumentException(call + ": " + name + " is required (device address 0 given)");
        }
    }

    private static void stride(String call, String name, int ld, int width) {
        if (ld < width) {
            throw new IllegalArgumentException(call + ": row stride " + name + " = " + ld + " is below the row width "
                    + width);
        }
    }

    private static void sizes(String call, String names, long... values) {
        String[] n = names.split(",");
        for (int i = 0; i < values.length; i++) {
            positive(call, n[i].strip(), values[i]);
        }
    }

    // --- embedding (cpu: ModelParts.embed / embeddingBackward) ---------------------------------------------------

    /**
     * h: (B, P + T, d) = [prompt; emb[tokens]] per batch row; tokens: (B, T) int32, prompt: (P, d) or 0 (P = 0),
     * emb: (V, d).
     */
    public void embed(long h, long tokens, long prompt, long emb, int batch, int promptLength, int tokensPerRow,
                      int dModel) {
        sizes("embed", "batch, promptLength, tokensPerRow, dModel", batch, promptLength, tokensPerRow, dModel);
        present("embed", "h", h);
        if (promptLength > 0) {
            present("embed", "prompt", prompt);
        }
        if (tokensPerRow > 0) {
            present("embed", "tokens", tokens);
            present("embed", "emb", emb);
        }
        if (batch == 0 || dModel == 0 || promptLength + tokensPerRow == 0) {
            return;
        }
        k("embed").launch(promptLength + tokensPerRow, batch, 1, THREADS, 0, h, tokens, prompt, emb, promptLength,
                tokensPerRow, dModel);
    }

    /**
     * dHidden: (B, P + T, d) -> dEmb: (V, d) += at the tokens' rows (or 0 to skip; rows of repeated tokens summed in
     * token order), dPrompt: (P, d) = Σ_b dHidden's first P rows of batch row b (or 0 to skip).
     */
    public void embeddingBackward(long dEmb, long dPrompt, long dHidden, long tokens, int batch, int promptLength,
                                  int tokensPerRow, int dModel, int vocab) {
        sizes("embeddingBackward", "batch, promptLength, tokensPerRow, dModel, vocab", batch, promptLength,
                tokensPerRow, dModel, vocab);
        present("embeddingBackward", "dHidden", dHidden);
        long rowFloats = (long) (promptLength + tokensPerRow) * dModel;
        if (dEmb != 0 && tokensPerRow > 0 && batch > 0 && dModel > 0) {
            present("embeddingBackward", "tokens", tokens);
            k("embed_bwd").launch((dModel + THREADS - 1) / THREADS, EMBED_BUCKETS, 1, THREADS, 0, dEmb, dHidden, tokens,
                    batch, promptLength, tokensPerRow, dModel);
        }
        if (dPrompt != 0 && promptLength > 0) {
            sumBatches(dPrompt, dHidden, batch, rowFloats, promptLength, dModel, dModel, false);
        }
    }

    // --- RMSNorm (cpu: RmsNorm) ------------------------------------------------------------------------------------

    /** x: (M, d), w: (d) -> y: (M, d) = w ⊙ x / sqrt(mean(x²) + eps), the mean of squares in double. */
    public void rmsNormForward(long y, long x, long w, int m, int d, double eps) {
        sizes("rmsNormForward", "m, d", m, d);
        present("rmsNormForward", "y", y);
        present("rmsNormForward", "x", x);
        present("rmsNormForward", "w", w);
        if (m == 0 || d == 0) {
            return;
        }
        k("rms_norm_fwd").launch(m, 1, 1, THREADS, 0, y, x, w, d, eps);
    }

    /**
     * With r = 1/sqrt(mean(x²) + eps): dx = r·(w⊙dy) − x·r³/d·Σ_j w_j dy_j x_j (assigned, or added when
     * accumulate; 0 to skip), dw (d) += Σ_rows dy ⊙ (x·r) (0 to skip).
     */
    public void rmsNormBackward(long dx, long dw, long dy, long x, long w, int m, int d, double eps,
                                boolean accumulate) {
        sizes("rmsNormBackward", "m, d", m, d);
        present("rmsNormBackward", "dy", dy);
        present("rmsNormBackward", "x", x);
        present("rmsNormBackward", "w", w);
        if (m == 0 || d == 0 || (dx == 0 && dw == 0)) {
            return;
        }
        int chunks = (m + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK;
        long part = scratch(8L * chunks * d + 4L * m);
        long inv = part + 8L * chunks * d;
        k("rms_norm_bwd_rows").launch(m, 1, 1, THREADS, 0, dx, inv, dy, x, w, d, eps, accumulate ? 1 : 0);
        if (dw != 0) {
            k("rms_norm_bwd_weight").launch((d + THREADS - 1) / THREADS, chunks, 1, THREADS, 0, part, dy, x, inv, m, d,
                    ROWS_PER_CHUNK);
            columnSumFinish(dw, part, chunks, d, true);
        }
    }

    // --- causal depthwise conv1d + silu (cpu: CausalConv1d) -------------------------------------------------------

    /**
     * x: (B, L, D) row stride ldx, w: (D, K) with K at most {@link #MAX_CONV_KERNEL}, bias: (D) or 0, state:
     * (B, D, K) in/out (the cpu layout: the conv continues from it, and holds the last inputs afterwards, exactly as
     * CausalConv1d.forwardSilu), or 0 for a zero state with nothing kept (training) -> pre: (B, L, D) the
     * pre-activation (or 0), y: (B, L, D) = silu(pre).
     */
    public void convSiluForward(long y, long pre, long x, int ldx, long w, long bias, long state, int batch, int len,
                                int channels, int kernel) {
        sizes("convSiluForward", "batch, len, channels", batch, len, channels);
        convKernel("convSiluForward", kernel);
        stride("convSiluForward", "ldx", ldx, channels);
        present("convSiluForward", "y", y);
        present("convSiluForward", "x", x);
        present("convSiluForward", "w", w);
        if (batch == 0 || len == 0 || channels == 0) {
            return;
        }
        if (len == 1 && state != 0) {
            // a decode step: the conv and the state's shift in one launch (the same sums)
            elementwise("conv_silu_step", (long) batch * channels, y, pre, x, ldx, w, bias, state, batch, channels,
                    kernel);
            return;
        }
        k("conv_silu_fwd").launch((channels + THREADS - 1) / THREADS, (len + CONV_TILE - 1) / CONV_TILE, batch,
                THREADS, 0, y, pre, x, ldx, w, bias, state, len, channels, kernel);
        if (state != 0) {
            elementwise("conv_state_update", (long) batch * channels, state, x, ldx, batch, len, channels, kernel);
        }
    }

    /**
     * From a zero conv state (training): dp_t = dy_t·silu'(p_t); dx_s = Σ_j dp_{s+K-1-j}·w[j] into dx (B, L, D) row
     * stride lddx (assigned); dw (D, K) += Σ_t dp_t·x[t+1+j-K] (0 to skip); dBias (D) += Σ_t dp_t (0 to skip).
     */
    public void convSiluBackward(long dx, int lddx, long dw, long dBias, long dy, long pre, long x, int ldx, long w,
                                 int batch, int len, int channels, int kernel) {
        sizes("convSiluBackward", "batch, len, channels", batch, len, channels);
        convKernel("convSiluBackward", kernel);
        stride("convSiluBackward", "ldx", ldx, channels);
        stride("convSiluBackward", "lddx", lddx, channels);
        for (var r : new Object[][] {{"dx", dx}, {"dy", dy}, {"pre", pre}, {"x", x}, {"w", w}}) {
            present("convSiluBackward", (String) r[0], (Long) r[1]);
        }
        if (batch == 0 || len == 0 || channels == 0) {
            return;
        }
        long n = (long) batch * len * channels;
        int tiles = (len + CONV_TILE - 1) / CONV_TILE;
        int chunks = batch * tiles;
        boolean params = dw != 0 || dBias != 0;
        long partBytes = params ? 8L * chunks * channels * (kernel + 1) : 0;
        long part = scratch(partBytes + 4L * n);
        long dp = part + partBytes;
        elementwise("conv_silu_dp", n, dp, dy, pre, n);
        k("conv_silu_bwd").launch((channels + THREADS - 1) / THREADS, tiles, batch, THREADS, 0, dx, lddx,
                params ? part : 0L, dp, x, ldx, w, len, channels, kernel);
        if (params) {
            elementwise("conv_param_finish", (long) channels * (kernel + 1), dw, dBias, part, chunks, channels, kernel);
        }
    }

    // --- softplus (cpu: Activations.softplus / softplusGradFromOutput) --------------------------------------------

    /** x (n) <- softplus(x) in place, as Activations.softplus (threshold 20). */
    public void softplusInPlace(long x, long n) {
        positive("softplusInPlace", "n", n);
        present("softplusInPlace", "x", x);
        elementwise("softplus_inplace", n, x, n);
    }

    /**
     * Δ (M, D) = softplus(dt_low·W_dtᵀ + b): dt_low the first R columns of xdbl (M, ld), W (D, R), b (D) or 0; the
     * product, its bias and softplus in one launch, a thread per element (for the few rows of a decode step, where
     * the three launches of the general path cost more than their arithmetic).
     */
    public void dtSoftplus(long dt, long xdbl, int ld, long w, long b, int m, int r, int d) {
        sizes("dtSoftplus", "m, r, d", m, r, d);
        stride("dtSoftplus", "ld", ld, r);
        present("dtSoftplus", "dt", dt);
        present("dtSoftplus", "xdbl", xdbl);
        present("dtSoftplus", "w", w);
        if (m == 0 || d == 0) {
            return;
        }
        elementwise("dt_softplus", (long) m * d, dt, xdbl, ld, w, b, m, r, d);
    }

    /** dx (n) *= softplus'(pre) computed from the output y = softplus(pre), as Activations.softplusGradFromOutput. */
    public void softplusBackwardInPlace(long dx, long y, long n) {
        positive("softplusBackwardInPlace", "n", n);
        present("softplusBackwardInPlace", "dx", dx);
        present("softplusBackwardInPlace", "y", y);
        elementwise("softplus_bwd_inplace", n, dx, y, n);
    }

    // --- cross-entropy (cpu: CrossEntropy.forwardBackward) --------------------------------------------------------

    /**
     * logits: (M, V), targets: (M) int32 (class or -100) -> rowLoss: (M) float, logsumexp(z) − z[y] per row (0 where
     * ignored; the caller sums in double and divides by count); dlogits: (M, V) = (softmax(z) − onehot(y)) / count at
     * rows with a target, 0 elsewhere (or 0 to skip). May be the same buffer as logits (overwritten in place).
     * Labels are the caller's to check (the plan checks token ids): a label outside [0, V) that is not -100 makes
     * that row's loss and gradient NaN, so a bad label stops training instead of being skipped silently.
     */
    public void crossEntropy(long dlogits, long rowLoss, long logits, long targets, int m, int vocab, int count) {
        sizes("crossEntropy", "m, vocab, count", m, vocab, count);
        present("crossEntropy", "rowLoss", rowLoss);
        present("crossEntropy", "logits", logits);
        present("crossEntropy", "targets", targets);
        if (m == 0) {
            return;
        }
        if (vocab == 0) {
            throw new IllegalArgumentException("crossEntropy: vocab = 0 (no class to predict)");
        }
        k("cross_entropy").launch(m, 1, 1, 512, 0, dlogits, rowLoss, logits, targets, vocab, Math.max(1, count));
    }

    // --- decoding (cpu: TopTokens.of) -------------------------------------------------------------------------------

    /**
     * logits: (B, V) -> ids: (B, n) int32, logp: (B, n) float: each row's n best tokens by logit, ties to the lower
     * id, best first, none whose bit is set in {@code excluded} (V bits as int32 words, bit i of word i/32; 0: none)
     * and never a NaN; logp = z[id] − logsumexp(z) over the whole row (in double). A row with fewer rankable ids
     * than n ends in -1 (NaN log p): the caller asks for at most V − excluded. work: {@link #topTokensWorkFloats}
     * floats, or 0: rows longer than {@link #TOP_SLICE} then run in two launches (a block per slice of the row, a
     * warp per row to merge: the same ids, log-probabilities within rounding), else one block per row.
     */
    public void topTokens(long ids, long logp, long logits, int rows, int vocab, int n, long excluded, long work) {
        sizes("topTokens", "rows, vocab, n", rows, vocab, n);
        present("topTokens", "ids", ids);
        present("topTokens", "logp", logp);
        present("topTokens", "logits", logits);
        if (rows == 0 || n == 0) {
            return;
        }
        if (vocab == 0) {
            throw new IllegalArgumentException("topTokens: vocab = 0 (no token to rank)");
        }
        if (work == 0 || vocab <= TOP_SLICE) {
            k("top_tokens").launch(rows, 1, 1, 1024, 0, ids, logp, logits, vocab, n, excluded);
            return;
        }
        // a block per slice and row, then a warp per row merges (top_tokens_part / _merge)
        int g = slices(vocab);
        long ms = work;
        long cv = ms + 16L * rows * g; // (m, s) doubles per slice
        long ci = cv + 4L * rows * g * n;
        k("top_tokens_part").launch(g, rows, 1, 256, 0, ms, cv, ci, logits, vocab, n, excluded, TOP_SLICE);
        k("top_tokens_merge").launch(rows, 1, 1, 32, 0, ids, logp, ms, cv, ci, n, g);
    }

    /** Logits per block of the two-launch {@link #topTokens} (TOP_SLICE: rows longer than this take it). */
    public static final int TOP_SLICE = 1024;

    private static int slices(int vocab) {
        return (vocab + TOP_SLICE - 1) / TOP_SLICE;
    }

    /** Floats of {@link #topTokens}' workspace for these rows (0 where one launch serves them). */
    public static long topTokensWorkFloats(int rows, int vocab, int n) {
        return vocab <= TOP_SLICE ? 0 : (long) rows * slices(vocab) * (4L + 2L * n); // 2 doubles, n floats, n ints
    }

    // --- DoRA's gain (cpu: ModelParts.lowRank / lowRankBackward with HookPlan.Dora) -------------------------------

    /** y: (M, out) row stride ldy += (g − 1) ⊙ base + g ⊙ scale·u, g (out) per column; base, u: (M, out). */
    public void doraForward(long y, int ldy, long base, long u, long gain, float scale, int m, int out) {
        sizes("doraForward", "m, out", m, out);
        stride("doraForward", "ldy", ldy, out);
        for (var r : new Object[][] {{"y", y}, {"base", base}, {"u", u}, {"gain", gain}}) {
            present("doraForward", (String) r[0], (Long) r[1]);
        }
        elementwise("dora_fwd", (long) m * out, y, ldy, base, u, gain, scale, m, out);
    }

    /**
     * dy: (M, out) row stride lddy -> dMagnitude (out) = Σ_rows dy ⊙ (base + scale·u) / norm (assigned),
     * scaled (M, out) = g ⊙ dy, rest (M, out) = (g − 1) ⊙ dy.
     */
    public void doraBackward(long dMagnitude, long scaled, long rest, long dy, int lddy, long base, long u, long gain,
                             long norm, float scale, int m, int out) {
        sizes("doraBackward", "m, out", m, out);
        stride("doraBackward", "lddy", lddy, out);
        for (var r : new Object[][] {{"dMagnitude", dMagnitude}, {"scaled", scaled}, {"rest", rest}, {"dy", dy},
                {"base", base}, {"u", u}, {"gain", gain}, {"norm", norm}}) {
            present("doraBackward", (String) r[0], (Long) r[1]);
        }
        if (out == 0) {
            return;
        }
        if (m == 0) {
            fill(dMagnitude, out, 0f);
            return;
        }
        int chunks = (m + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK;
        long part = scratch(8L * chunks * out);
        k("dora_bwd").launch((out + THREADS - 1) / THREADS, chunks, 1, THREADS, 0, part, scaled, rest, dy, lddy, base,
                u, gain, norm, scale, m, out, ROWS_PER_CHUNK);
        columnSumFinish(dMagnitude, part, chunks, out, false);
    }

    // --- rows, sums and elementwise -------------------------------------------------------------------------------

    /** dst (rows, cols) row stride ldDst <- src (rows, cols) row stride ldSrc (floats). */
    public void copy2d(long dst, int ldDst, long src, int ldSrc, int rows, int cols) {
        sizes("copy2d", "rows, cols, ldSrc", rows, cols, ldSrc);
        stride("copy2d", "ldDst", ldDst, cols);
        if (ldSrc != 0) {
            stride("copy2d", "ldSrc", ldSrc, cols);
        }
        present("copy2d", "dst", dst);
        present("copy2d", "src", src);
        elementwise("copy_2d", (long) rows * cols, dst, ldDst, src, ldSrc, rows, cols);
    }

    /**
     * dst (rows, cols) bf16, contiguous (row stride cols, 2-byte elements) <- src (rows, cols) float32 row stride
     * ldSrc, each element rounded to the nearest bf16 (ties to even; NaN stays NaN, ±∞ and values past bf16's range
     * round to ±∞): the inputs of a bf16 product, as {@code Bf16.fromFloat} on the host.
     */
    public void toBf16(long dst, long src, int ldSrc, int rows, int cols) {
        sizes("toBf16", "rows, cols", rows, cols);
        stride("toBf16", "ldSrc", ldSrc, cols);
        present("toBf16", "dst", dst);
        present("toBf16", "src", src);
        elementwise("to_bf16_2d", (long) rows * cols, dst, src, ldSrc, rows, cols);
    }

    /** dst (n floats) <- value. */
    public void fill(long dst, long n, float value) {
        positive("fill", "n", n);
        present("fill", "dst", dst);
        elementwise("fill", n, dst, n, value);
    }

    /** y (n) += scale · x (n). */
    public void addScaled(long y, long x, float scale, long n) {
        positive("addScaled", "n", n);
        present("addScaled", "y", y);
        present("addScaled", "x", x);
        elementwise("add_scaled", n, y, x, scale, n);
    }

    /**
     * dst (rows, cols) row stride cols, = or += (accumulate) Σ_{b < batches} src[b·batchStride + r·ld + c], summed
     * in b order: bias gradients (batches = M rows, rows 1), a prompt's or prefix's gradient summed over batch rows.
     */
    public void sumBatches(long dst, long src, int batches, long batchStride, int rows, int cols, int ld,
                           boolean accumulate) {
        sizes("sumBatches", "batches, batchStride, rows, cols", batches, batchStride, rows, cols);
        if (rows > 1) {
            stride("sumBatches", "ld", ld, cols);
        }
        present("sumBatches", "dst", dst);
        if (batches > 0) {
            present("sumBatches", "src", src);
        }
        elementwise("sum_batches", (long) rows * cols, dst, src, batches, batchStride, rows, cols, ld,
                accumulate ? 1 : 0);
    }

    /**
     * dst (n, size) row i <- src row rows[i], {@code rows} n int32 indices on the device (each a row of src): a
     * state's rows reordered (beam search, from a copy) or picked (repeat, fork) in one launch.
     */
    public void gatherRows(long dst, long src, long rows, int n, long size) {
        sizes("gatherRows", "n, size", n, size);
        present("gatherRows", "dst", dst);
        present("gatherRows", "src", src);
        present("gatherRows", "rows", rows);
        elementwise("gather_rows", (long) n * size, dst, src, rows, n, size);
    }

    /** state (B, S) += v (S) for every batch row (an initial state added to a fresh state). */
    public void addBroadcast(long state, long v, int batch, int size) {
        sizes("addBroadcast", "batch, size", batch, size);
        present("addBroadcast", "state", state);
        present("addBroadcast", "v", v);
        elementwise("add_broadcast", (long) batch * size, state, v, batch, size);
    }

    /** negA (n) = -exp(aLog) (A = -exp(A_log)), in float as the cpu's (float) -Math.exp. */
    public void negExp(long negA, long aLog, long n) {
        positive("negExp", "n", n);
        present("negExp", "negA", negA);
        present("negExp", "aLog", aLog);
        elementwise("neg_exp", n, negA, aLog, n);
    }

    /** dst (n) += a ⊙ b (dA_log += dA ⊙ A). */
    public void mulAdd(long dst, long a, long b, long n) {
        positive("mulAdd", "n", n);
        for (var r : new Object[][] {{"dst", dst}, {"a", a}, {"b", b}}) {
            present("mulAdd", (String) r[0], (Long) r[1]);
        }
        elementwise("mul_add", n, dst, a, b, n);
    }

    /** dst (cols) = or += the fixed-order sum of per-chunk partials (chunks, cols) in double. */
    private void columnSumFinish(long dst, long part, int chunks, int cols, boolean accumulate) {
        elementwise("column_sum_finish", cols, dst, part, chunks, cols, accumulate ? 1 : 0);
    }

    private static void convKernel(String call, int kernel) {
        if (kernel < 1 || kernel > MAX_CONV_KERNEL) {
            throw new IllegalArgumentException(call + ": conv kernel width " + kernel + " is outside [1, "
                    + MAX_CONV_KERNEL + "] (the widest the kernels are compiled for)");
        }
    }
}
