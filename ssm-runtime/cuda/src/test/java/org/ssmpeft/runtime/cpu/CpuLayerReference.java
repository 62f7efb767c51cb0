package org.ssmpeft.runtime.cpu;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import org.ssmpeft.runtime.backend.TopTokens;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;
import org.ssmpeft.runtime.plan.TermGradients;

/**
 * The cpu backend's layer primitives, opened to the cuda module's tests (same package on the class path): the
 * reference every {@code LayerKernels} and {@code DeviceLinear} method is compared with. Arguments as the cpu's
 * (float[] for device addresses, null for "absent"); each method calls the cpu code, except where noted: the cpu
 * keeps a value local (cross-entropy's per-row loss, DoRA's scaled gradients) or has no primitive of that shape
 * (the batch sums, addScaled), and then the formula is written here once, in the cpu's arithmetic.
 */
public final class CpuLayerReference {

    private static final Parallel PAR = new Parallel(ForkJoinPool.commonPool());

    /** The label of a position without a target. */
    public static final int IGNORE_INDEX = CrossEntropy.IGNORE_INDEX;

    private CpuLayerReference() {
    }

    // --- embedding (ModelParts.embed / embeddingBackward) -----------------------------------------------------------

    /** tokens: (B, T), prompt: (P, d) or null -> h: (B, P + T, d). */
    public static float[] embed(int[][] tokens, float[] prompt, int promptLength, float[] emb, int dModel) {
        Optional<Term> p = promptTerm(prompt, promptLength, dModel);
        return ModelParts.embed(tokens, p, emb, dModel, promptLength + tokens[0].length);
    }

    /**
     * dHidden: (B, P + T, d) -> dEmb (V, d) += at the tokens' rows (or null); returns the prompt's gradient (P, d)
     * summed over the batch rows (empty when P = 0).
     */
    public static float[] embeddingBackward(int[][] tokens, float[] dHidden, float[] dEmb, int promptLength,
                                            int dModel) {
        // the prompt's values are not read by the backward; the term only carries its shape and identity
        Optional<Term> p = promptTerm(new float[promptLength * dModel], promptLength, dModel);
        var g = new ModelParts.Grads(Map.of(), Set.of());
        ModelParts.embeddingBackward(tokens, dHidden, dEmb, p, dModel, promptLength + tokens[0].length, g);
        return p.map(t -> TermGradients.of(g.plan, t)).orElse(new float[0]);
    }

    private static Optional<Term> promptTerm(float[] prompt, int promptLength, int dModel) {
        if (promptLength == 0) {
            return Optional.empty();
        }
        return Optional.of(new Term("prompt", prompt, new int[] {promptLength, dModel}, List.of()));
    }

    // --- RMSNorm -----------------------------------------------------------------------------------------------------

    /** x: (M, d), w: (d) -> y: (M, d). */
    public static void rmsNormForward(float[] y, float[] x, float[] w, int m, int d, double eps) {
        RmsNorm.forward(PAR, y, x, w, m, d, eps);
    }

    /** dx: (M, d) = or += (null to skip), dw: (d) += (null to skip). */
    public static void rmsNormBackward(float[] dx, float[] dw, float[] dy, float[] x, float[] w, int m, int d,
                                       double eps, boolean accumulate) {
        RmsNorm.backward(PAR, dx, dw, dy, x, w, m, d, eps, accumulate);
    }

    // --- causal conv1d + silu ----------------------------------------------------------------------------------------

    /** x: (B, L, D) row stride ldx, w: (D, K), bias or null, state (B, D, K) in/out -> pre or null, y (B, L, D). */
    public static void convSiluForward(float[] y, float[] pre, float[] x, int ldx, float[] w, float[] bias,
                                       float[] state, int batch, int len, int channels, int kernel) {
        CausalConv1d.forwardSilu(PAR, y, pre, x, ldx, w, bias, state, batch, len, channels, kernel);
    }

    /** From a zero state: dx (B, L, D) row stride lddx assigned; dw (D, K) and dBias (D) += or null. */
    public static void convSiluBackward(float[] dx, int lddx, float[] dw, float[] dBias, float[] dy, float[] pre,
                                        float[] x, int ldx, float[] w, int batch, int len, int channels, int kernel) {
        CausalConv1d.backwardSilu(PAR, dx, lddx, dw, dBias, dy, pre, x, ldx, w, batch, len, channels, kernel);
    }

    // --- activations -------------------------------------------------------------------------------------------------

    public static float silu(float x) {
        return Activations.silu(x);
    }

    /** x <- softplus(x), elementwise. */
    public static void softplusInPlace(float[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] = Activations.softplus(x[i]);
        }
    }

    /** dx *= softplus'(pre), from the output y = softplus(pre), elementwise. */
    public static void softplusBackwardInPlace(float[] dx, float[] y) {
        for (int i = 0; i < dx.length; i++) {
            dx[i] *= Activations.softplusGradFromOutput(y[i]);
        }
    }

    // --- cross-entropy -----------------------------------------------------------------------------------------------

    public static int targetCount(int[] targets) {
        return CrossEntropy.count(targets);
    }

    /**
     * logits: (M, V), targets: (M) -> the cpu's mean loss; dlogits (M, V) (or null) as the cpu fills it. rowLoss (M)
     * (or null) gets logsumexp(z) − z[y] per row, 0 where ignored: the cpu sums these in a local array, so they are
     * computed here with its formula (log-sum-exp in double, from the row's max).
     */
    public static double crossEntropy(float[] dlogits, float[] rowLoss, float[] logits, int[] targets, int m,
                                      int vocab) {
        double mean = CrossEntropy.forwardBackward(PAR, dlogits, logits, targets, m, vocab);
        if (rowLoss != null) {
            for (int r = 0; r < m; r++) {
                int y = targets[r];
                if (y == IGNORE_INDEX) {
                    rowLoss[r] = 0f;
                    continue;
                }
                int o = r * vocab;
                rowLoss[r] = (float) (TopTokens.logSumExp(logits, o, vocab) - logits[o + y]);
            }
        }
        return mean;
    }

    // --- Linear ------------------------------------------------------------------------------------------------------

    /** x: (M, in) row stride ldx, w: (out, in), b: (out) or null -> y: (M, out) (row stride out). */
    public static void linearForward(float[] y, float[] x, int ldx, float[] w, float[] b, int m, int in, int out) {
        Linear.forward(PAR, y, x, ldx, w, b, m, in, out);
    }

    /** y: (M, ldy) columns [yOff, yOff + out) += scale · x·Wᵀ. */
    public static void linearForwardAdd(float[] y, int yOff, int ldy, float[] x, int ldx, float[] w, float scale,
                                        int m, int in, int out) {
        Linear.forwardAdd(PAR, y, yOff, ldy, x, ldx, w, scale, m, in, out);
    }

    /** dy: (M, lddy) columns [dyOff, dyOff + out) -> dx: (M, in) row stride lddx, = or += scale · dy·W. */
    public static void linearBackwardInput(float[] dx, int lddx, float[] dy, int dyOff, int lddy, float[] w,
                                           float scale, int m, int in, int out, boolean accumulate) {
        Linear.backwardInput(PAR, dx, lddx, dy, dyOff, lddy, w, scale, m, in, out, accumulate);
    }

    /** dw: (out, in) += scale · dyᵀ·x. */
    public static void linearBackwardWeight(float[] dw, float[] dy, int dyOff, int lddy, float[] x, int ldx,
                                            float scale, int m, int in, int out) {
        Linear.backwardWeight(PAR, dw, dy, dyOff, lddy, x, ldx, scale, m, in, out);
    }

    /** db: (out) += Σ_rows dy. */
    public static void linearBackwardBias(float[] db, float[] dy, int dyOff, int lddy, int m, int out) {
        Linear.backwardBias(db, dy, dyOff, lddy, m, out);
    }

    // --- DoRA (ModelParts.lowRank / lowRankBackward with one DoRA delta) ---------------------------------------------

    /** One DoRA delta on rows [rowOffset, rowOffset + out) of weight (outFull, in): A (rank, in), B (out, rank). */
    public record Dora(float[] a, float[] b, float[] weight, float[] magnitude, float[] norm, float scale, int rank,
                       int in, int out, int rowOffset) {

        HookPlan.LowRank delta() {
            var mag = new Term("magnitude", magnitude, new int[] {out}, List.of());
            var dora = new HookPlan.Dora(mag, norm, weight);
            return new HookPlan.LowRank(new Term("A", a, new int[] {rank, in}, List.of()),
                    new Term("B", b, new int[] {out, rank}, List.of()), scale, rank, in, out, rowOffset,
                    Optional.of(dora));
        }

        /** g = m / n per row, as the cpu computes it (HookPlan.Dora.gain). */
        public float[] gain() {
            return delta().dora().orElseThrow().gain();
        }

        /** x·W[rows]ᵀ: (M, out), the product ModelParts.baseRows hands the DoRA formula. */
        public float[] base(float[] x, int ldx, int m) {
            float[] base = new float[m * out];
            Gemm.abT(PAR, x, 0, ldx, weight, rowOffset * in, in, null, base, 0, out, m, out, in);
            return base;
        }

        /** u = (x·Aᵀ)·Bᵀ: (M, out), unscaled, by the same two Linear.forward calls as ModelParts.lowRank. */
        public float[] update(float[] x, int ldx, int m) {
            float[] t = new float[m * rank];
            Linear.forward(PAR, t, x, ldx, a, null, m, in, rank);
            float[] u = new float[m * out];
            Linear.forward(PAR, u, t, rank, b, null, m, rank, out);
            return u;
        }

        /** y: (M, ldy) columns [rowOffset, rowOffset + out) += (g − 1) ⊙ base + g ⊙ s·u (ModelParts.lowRank). */
        public void forward(float[] y, int ldy, float[] x, int ldx, int m) {
            ModelParts.lowRank(PAR, List.of(delta()), y, ldy, x, ldx, m);
        }

        /**
         * dy: (M, ldy), the projection's whole output gradient -> dMagnitude (out) = Σ_rows dy ⊙ (base + s·u) / n,
         * the gradient ModelParts.lowRankBackward reports for the magnitude.
         */
        public float[] magnitudeGradient(float[] dy, int ldy, float[] x, int ldx, int m) {
            HookPlan.LowRank d = delta();
            var g = new ModelParts.Grads(Map.of(), Set.of());
            ModelParts.lowRankBackward(PAR, List.of(d), dy, ldy, x, ldx, null, 0, m, g);
            return TermGradients.of(g.plan, d.dora().orElseThrow().magnitude());
        }

        /**
         * g ⊙ dy and (g − 1) ⊙ dy on the rows: (M, out) each. lowRankBackward keeps both in locals, so they are
         * written here with its expressions (one float product per element, the same gain).
         */
        public float[][] scaledAndRest(float[] dy, int ldy, int m) {
            float[] gain = gain();
            float[] scaled = new float[m * out];
            float[] rest = new float[m * out];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < out; j++) {
                    float gy = dy[i * ldy + rowOffset + j];
                    scaled[i * out + j] = gain[j] * gy;
                    rest[i * out + j] = (gain[j] - 1f) * gy;
                }
            }
            return new float[][] {scaled, rest};
        }
    }

    // --- rows, sums and elementwise ----------------------------------------------------------------------------------

    /**
     * dst (rows, cols) = or += Σ_{b < batches} src[b·batchStride + r·ld + c] in b order. The cpu has this sum only
     * inside its callers (Linear.backwardBias for rows = 1, the prompt's and prefix's gradients), so it is written
     * here as those write it: a float sum in batch order from zero, then added to dst.
     */
    public static void sumBatches(float[] dst, float[] src, int batches, long batchStride, int rows, int cols, int ld,
                                  boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float acc = 0f;
                for (int b = 0; b < batches; b++) {
                    acc += src[(int) (b * batchStride) + r * ld + c];
                }
                dst[r * cols + c] = accumulate ? dst[r * cols + c] + acc : acc;
            }
        }
    }

    /** y += scale · x: the expression Linear.forwardAdd and backwardInput use (no standalone cpu primitive). */
    public static void addScaled(float[] y, float[] x, float scale) {
        for (int i = 0; i < y.length; i++) {
            y[i] += scale * x[i];
        }
    }

    /** state (B, S) += v (S) for every batch row (ModelParts.addInitialState). */
    public static void addBroadcast(float[] state, float[] v, int batch) {
        ModelParts.addInitialState(state, Optional.of(new Term("h0", v, new int[] {v.length}, List.of())), batch);
    }

    /** A = -exp(A_log) (CpuPlan.negA). */
    public static float[] negExp(float[] aLog) {
        return CpuPlan.negA(aLog);
    }

    /** dst += a ⊙ b (ModelParts.logDecayBackward: dA_log += dA ⊙ A). */
    public static void mulAdd(float[] dst, float[] a, float[] b) {
        ModelParts.logDecayBackward(dst, a, b);
    }
}
