package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import java.util.function.BiFunction;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.HostStateModel;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.checkpoint.LanguageModelConfig;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.cpu.ModelParts.Grads;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * The language model around the blocks on the CPU in float32, the same for every family: the embedding with the
 * prompt, the walk over the blocks, norm_f, the head with its low-rank deltas, the loss, and the backward of all of
 * these, entering only the layers at or above the lowest trainable thing. A family ({@link CpuMamba},
 * {@link CpuMamba2}) supplies its block: the tape of activations one layer keeps, the block's forward (the residual
 * stream updated in place) and its backward. Symbols: B batch, L length, d d_model, V vocab, M = B·L.
 * <pre>
 *   h = [prompt; embedding[tokens]]                 (B, L, d)
 *   h = block_l(h)  for l = 0 .. layers-1           the family's mixer, residual inside
 *   logits = norm_f(h)·lm_headᵀ + Σ s·(norm_f(h)·Aᵀ)·Bᵀ    (M, V)
 * </pre>
 * Thread-safe: calls share only the read-only weights; each call has its own buffers and its caller's state.
 *
 * @param <W> the family's weights
 * @param <T> the family's per-layer tape
 */
abstract sealed class CpuLanguageModel<W extends LanguageModelWeights<W>, T extends CpuLanguageModel.Tape>
        implements HostStateModel permits CpuMamba, CpuMamba2 {

    final W weights;
    final Parallel par;
    final List<float[]> negA; // per layer A = -exp(A_log), the family's shape
    private final BiFunction<W, Integer, float[]> aLog;
    private final LanguageModelConfig lm;

    /** @param aLog a layer's A_log in the given weights */
    CpuLanguageModel(W weights, ForkJoinPool pool, BiFunction<W, Integer, float[]> aLog) {
        this.weights = weights;
        this.lm = weights.config();
        this.par = new Parallel(pool);
        this.aLog = aLog;
        var a = new ArrayList<float[]>();
        for (int l = 0; l < lm.layers(); l++) {
            a.add(CpuPlan.negA(aLog.apply(weights, l)));
        }
        this.negA = List.copyOf(a);
    }

    /**
     * The rows of one block: B sequences of L positions, M = B·L residual rows; with a prefix of n virtual tokens
     * Lx = n + L and Mx = B·Lx rows inside the mixer (else Lx = L).
     */
    record Rows(int batch, int len, int prefix) {
        int m() {
            return batch * len;
        }

        int lx() {
            return len + prefix;
        }

        int mx() {
            return batch * lx();
        }
    }

    /** What one layer keeps for its backward; the family adds its activations. */
    abstract static class Tape {
        final Rows rows;
        final float[] normed;   // (M, d) RMSNorm of the block's input
        final float[] hiddenIn; // (M, d) the block's input, training only

        Tape(Rows rows, int dModel, boolean training) {
            this.rows = rows;
            this.normed = new float[Math.multiplyExact(rows.m(), dModel)];
            this.hiddenIn = training ? new float[Math.multiplyExact(rows.m(), dModel)] : null;
        }
    }

    /** One forward pass: logits, and in training mode the activations of every layer. */
    record Pass<T>(float[] logits, int len, List<float[]> kept, List<T> tapes, float[] finalHidden, float[] normedF) {
    }

    /**
     * Checks what the family's block cannot compute, before anything runs, and prepares the state for the acting
     * hooks of every row; {@code rows} is not yet combined with the weights.
     */
    abstract void admit(RowPlans rows, HostState cache);

    /** Whether {@link #mixer} computes a mixed-adapter batch (several segments of rows) in one pass. */
    boolean mixesNatively() {
        return true;
    }

    /** The tape for a layer of these rows; {@code previous} (the layer below's, or null) may be reused when not training. */
    abstract T tape(T previous, Rows rows, boolean training);

    /** One block: h <- block(h), the residual stream h: (M, d) updated in place, advancing the layer's state. */
    abstract void mixer(int layer, float[] hidden, T tape, HostState cache, CpuPlan<W> plan, boolean training);

    /** dHidden: (M, d) the gradient of the block's output, updated in place to that of its input (when needInput). */
    abstract void mixerBackward(int layer, float[] dHidden, T tape, CpuPlan<W> plan, Grads g, boolean needInput);

    @Override
    public String backend() {
        return CpuBackendProvider.NAME;
    }

    @Override
    public W spec() {
        return weights;
    }

    final CpuPlan<W> plan(AdapterSet adapters, HostState cache) {
        return plan(RowPlans.of(HookPlan.resolve(weights, adapters, cache.isFresh()), cache.batch()), cache);
    }

    private CpuPlan<W> plan(RowPlans rows, HostState cache) {
        admit(rows, cache);
        return CpuPlan.of(rows, weights, negA, aLog);
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        HostState cache = own(state, tokens.length);
        CpuPlan<W> plan = plan(adapters, cache);
        Pass<T> p = run(tokens, plan, cache, false, false);
        return new Logits(p.logits, tokens.length, p.len, lm.vocabSize(), plan.promptLength());
    }

    /**
     * A mixed-adapter batch in one pass (see {@link org.ssmpeft.runtime.backend.SsmModel}): the base products
     * (in_proj, x_proj, dt_proj, out_proj, the head, the norms) over all rows at once, and each segment of rows with
     * the same adapters gets its own hooks on its own rows: its prompt rows, prefix rows, initial state, the conv and
     * the scan with its state and output offsets and state extension, and its low-rank deltas on its slice of every
     * product. Every product and kernel computes a row the way it does alone, so each row's logits are those of the
     * row alone, bit for bit. A family whose block does not ({@link #mixesNatively()} false: Mamba-2 for now) runs
     * the batch row by row, {@link org.ssmpeft.runtime.backend.SsmModel}'s default.
     */
    @Override
    public Logits forward(int[][] tokens, List<AdapterSet> perRow, SsmState state) {
        if (!mixesNatively()) {
            return HostStateModel.super.forward(tokens, perRow, state);
        }
        HostState cache = own(state, tokens.length);
        HookPlan.checkTokens(tokens, cache.batch(), lm.vocabSize());
        CpuPlan<W> plan = plan(RowPlans.resolve(weights, perRow, tokens.length, cache.isFresh()), cache);
        Pass<T> p = run(tokens, plan, cache, false, false);
        return new Logits(p.logits, tokens.length, p.len, lm.vocabSize(), plan.promptLength());
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        HostState cache = newState(tokens.length);
        return run(tokens, plan(adapters, cache), cache, true, false).kept;
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        HostState cache = newState(tokens.length);
        CpuPlan<W> plan = plan(adapters, cache);
        Pass<T> p = run(tokens, plan, cache, false, false);
        int[] targets = plan.hooks().targets(tokens, labels);
        return CrossEntropy.forwardBackward(par, null, p.logits, targets, targets.length, lm.vocabSize());
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        HostState cache = newState(tokens.length);
        CpuPlan<W> plan = plan(adapters, cache);
        Set<String> wanted = plan.hooks().gradientBaseNames(trainableBaseNames);
        int[] targets = plan.hooks().targets(tokens, labels);
        Pass<T> pass = run(tokens, plan, cache, false, true);
        int v = lm.vocabSize();
        long t0 = CpuProfile.start();
        float[] dlogits = new float[pass.logits.length];
        double loss = CrossEntropy.forwardBackward(par, dlogits, pass.logits, targets, tokens.length * pass.len, v);
        CpuProfile.lap(CpuProfile.Part.LOSS, t0);
        var g = new Grads(weights.parameters(), wanted);
        backward(tokens, plan, pass, dlogits, g);
        var logits = new Logits(pass.logits, tokens.length, pass.len, v, plan.promptLength());
        return plan.hooks().result(loss, HookPlan.targetCount(targets), logits, g.plan, trainableBaseNames);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    final Pass<T> run(int[][] tokens, CpuPlan<W> plan, HostState cache, boolean keepHiddenStates, boolean training) {
        int batch = tokens.length;
        HookPlan.checkTokens(tokens, batch, lm.vocabSize());
        int len = plan.promptLength() + tokens[0].length;
        int m = Math.multiplyExact(batch, len);
        int dm = lm.dModel();
        W w = plan.weights;
        long t0 = CpuProfile.start();
        float[] hidden = ModelParts.embed(tokens, plan.segments(), w.embedding(), dm, len);
        CpuProfile.lap(CpuProfile.Part.EMBED, t0);
        var kept = new ArrayList<float[]>();
        List<T> tapes = training ? new ArrayList<>() : null;
        T tape = null;
        for (int i = 0; i < lm.layers(); i++) {
            tape = tape(tape, new Rows(batch, len, plan.rows.prefixLength(i)), training);
            if (training) {
                System.arraycopy(hidden, 0, tape.hiddenIn, 0, hidden.length);
                tapes.add(tape);
            }
            mixer(i, hidden, tape, cache, plan, training);
            if (keepHiddenStates) {
                kept.add(hidden.clone());
            }
        }
        cache.advance(len);
        long t1 = CpuProfile.start();
        float[] normed = new float[Math.multiplyExact(m, dm)];
        RmsNorm.forward(par, normed, hidden, w.normF(), m, dm, lm.layerNormEpsilon());
        t1 = CpuProfile.lap(CpuProfile.Part.NORM_F, t1);
        if (keepHiddenStates) {
            kept.add(normed.clone());
        }
        int v = lm.vocabSize();
        float[] logits = new float[Math.multiplyExact(m, v)];
        // logits = norm_f(h) · lm_headᵀ (+ s·B(A·norm_f(h))): (B·L, d) x (V, d)ᵀ -> (B·L, V)
        Linear.forward(par, logits, normed, dm, w.lmHead(), null, m, dm, v);
        ModelParts.lowRank(par, plan.segments(), HookPlan::head, logits, v, normed, dm, len);
        CpuProfile.lap(CpuProfile.Part.HEAD, t1);
        return new Pass<>(logits, len, kept, tapes, hidden, normed);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    private void backward(int[][] tokens, CpuPlan<W> plan, Pass<T> pass, float[] dlogits, Grads g) {
        W w = plan.weights;
        int batch = tokens.length;
        int len = pass.len;
        int m = batch * len;
        int dm = lm.dModel();
        int v = lm.vocabSize();
        int layers = lm.layers();

        boolean embeddingNeedsGrad = g.base(LanguageModelWeights.EMBEDDING) != null || plan.promptLength() > 0;
        boolean[] trainableIn = new boolean[layers];
        int lowest = embeddingNeedsGrad ? 0 : layers;
        for (int l = layers - 1; l >= 0; l--) {
            String prefix = LanguageModelWeights.layerName(l, "");
            trainableIn[l] = plan.layer(l).hasHooks() || g.wanted.stream().anyMatch(n -> n.startsWith(prefix));
            if (trainableIn[l]) {
                lowest = Math.min(lowest, l);
            }
        }
        boolean throughLayers = lowest < layers;

        // head: logits = normedF·Wᵀ + Σ s·(normedF·Aᵀ)·Bᵀ
        long t0 = CpuProfile.start();
        String headName = lm.tieWordEmbeddings() ? LanguageModelWeights.EMBEDDING : LanguageModelWeights.LM_HEAD;
        float[] dNormedF = null;
        if (throughLayers || g.base(LanguageModelWeights.NORM_F) != null) {
            dNormedF = new float[m * dm];
            Linear.backwardInput(par, dNormedF, dm, dlogits, 0, v, w.lmHead(), 1f, m, dm, v, false);
        }
        ModelParts.lowRankBackward(par, plan.hooks().head(), dlogits, v, pass.normedF, dm, dNormedF, dm, m, g);
        if (g.base(headName) != null) {
            Linear.backwardWeight(par, g.base(headName), dlogits, 0, v, pass.normedF, dm, 1f, m, dm, v);
        }
        t0 = CpuProfile.lap(CpuProfile.Part.HEAD_BACKWARD, t0);
        if (dNormedF == null) {
            return;
        }
        float[] dHidden = throughLayers ? new float[m * dm] : null;
        RmsNorm.backward(par, dHidden, g.base(LanguageModelWeights.NORM_F), dNormedF, pass.finalHidden, w.normF(), m,
                dm, lm.layerNormEpsilon(), false);
        CpuProfile.lap(CpuProfile.Part.NORM_F_BACKWARD, t0);
        if (!throughLayers) {
            return;
        }
        boolean belowTrainable = embeddingNeedsGrad;
        boolean[] needInput = new boolean[layers];
        for (int l = 0; l < layers; l++) {
            needInput[l] = belowTrainable;
            belowTrainable |= trainableIn[l];
        }
        for (int l = layers - 1; l >= lowest; l--) {
            mixerBackward(l, dHidden, pass.tapes.get(l), plan, g, needInput[l]);
        }
        long t1 = CpuProfile.start();
        ModelParts.embeddingBackward(tokens, dHidden, g.base(LanguageModelWeights.EMBEDDING), plan.hooks().prompt(), dm,
                len, g);
        CpuProfile.lap(CpuProfile.Part.EMBED_BACKWARD, t1);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the block's shell, the same in every family: u = RMSNorm(h), in_proj(u) first; h += out_proj(y) last

    // u = RMSNorm(h): (M, d) into t.normed;  proj = u·W_inᵀ + b + LoRA: (M, d) -> (M, width), each segment's LoRA
    // on its rows
    final void normAndInProj(float[] hidden, Tape t, float[] proj, float[] norm, float[] inProj, float[] inProjBias,
                             CpuPlan<W> plan, int layer, int width) {
        int m = t.rows.m();
        int dm = lm.dModel();
        long t0 = CpuProfile.start();
        RmsNorm.forward(par, t.normed, hidden, norm, m, dm, lm.layerNormEpsilon());
        t0 = CpuProfile.lap(CpuProfile.Part.NORM, t0);
        Linear.forward(par, proj, t.normed, dm, inProj, inProjBias, m, dm, width);
        ModelParts.lowRank(par, plan.segments(), p -> p.layer(layer).deltas("in_proj"), proj, width, t.normed, dm,
                t.rows.len());
        CpuProfile.lap(CpuProfile.Part.IN_PROJ, t0);
    }

    // h += out = yReal·W_outᵀ + b + LoRA: (M, D) -> (M, d), out a scratch (M, d); yReal = y (Mx, D) at the real
    // rows (the same array without a prefix); each segment's LoRA on its rows
    final void outProjResidual(float[] hidden, float[] out, float[] y, float[] yReal, float[] outProj,
                               float[] outProjBias, CpuPlan<W> plan, int layer, Rows rows, int di) {
        if (rows.prefix() > 0) {
            ModelParts.copyRealRows(y, yReal, rows, di);
        }
        long t0 = CpuProfile.start();
        int m = rows.m();
        int dm = lm.dModel();
        Linear.forward(par, out, yReal, di, outProj, outProjBias, m, di, dm);
        ModelParts.lowRank(par, plan.segments(), p -> p.layer(layer).deltas("out_proj"), out, dm, yReal, di,
                rows.len());
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] += out[i];
        }
        CpuProfile.lap(CpuProfile.Part.OUT_PROJ, t0);
    }

    // out = yReal·W_outᵀ + b + LoRA: dHidden (M, d) -> dy (Mx, D), zero at a prefix's virtual rows (their outputs
    // were dropped), and the weight, bias and LoRA gradients
    final float[] outProjBackward(int layer, float[] dHidden, float[] yReal, float[] outProj, HookPlan.Layer hooks,
                                  Grads g, Rows rows, int di) {
        int m = rows.m();
        int dm = lm.dModel();
        long t0 = CpuProfile.start();
        float[] dyReal = new float[m * di];
        Linear.backwardInput(par, dyReal, di, dHidden, 0, dm, outProj, 1f, m, di, dm, false);
        ModelParts.lowRankBackward(par, hooks.deltas("out_proj"), dHidden, dm, yReal, di, dyReal, di, m, g);
        weightGrad(g, layer, "mixer.out_proj.weight", dHidden, dm, yReal, di, m, di, dm);
        biasGrad(g, layer, "mixer.out_proj.bias", dHidden, dm, m, dm);
        float[] dy = rows.prefix() > 0 ? ModelParts.mixerRows(dyReal, rows, di) : dyReal;
        CpuProfile.lap(CpuProfile.Part.OUT_PROJ_BACKWARD, t0);
        return dy;
    }

    // proj = RMSNorm(h)·W_inᵀ + b + LoRA: dProj (M, width) -> the weight, bias, LoRA and norm gradients, and, when
    // needInput, dHidden += dL/dh through the norm (the residual's own part is dHidden itself)
    final void inProjAndNormBackward(int layer, float[] dHidden, float[] dProj, int width, Tape t, float[] inProj,
                                     float[] norm, HookPlan.Layer hooks, Grads g, boolean needInput) {
        int m = t.rows.m();
        int dm = lm.dModel();
        long t0 = CpuProfile.start();
        float[] dNormWeight = g.base(LanguageModelWeights.layerName(layer, "norm.weight"));
        float[] dNormed = null;
        if (needInput || dNormWeight != null) {
            dNormed = new float[m * dm];
            Linear.backwardInput(par, dNormed, dm, dProj, 0, width, inProj, 1f, m, dm, width, false);
        }
        ModelParts.lowRankBackward(par, hooks.deltas("in_proj"), dProj, width, t.normed, dm, dNormed, dm, m, g);
        weightGrad(g, layer, "mixer.in_proj.weight", dProj, width, t.normed, dm, m, dm, width);
        biasGrad(g, layer, "mixer.in_proj.bias", dProj, width, m, width);
        t0 = CpuProfile.lap(CpuProfile.Part.IN_PROJ_BACKWARD, t0);
        if (dNormed != null) {
            RmsNorm.backward(par, needInput ? dHidden : null, dNormWeight, dNormed, t.hiddenIn, norm, m, dm,
                    lm.layerNormEpsilon(), true);
        }
        CpuProfile.lap(CpuProfile.Part.NORM_BACKWARD, t0);
    }

    // dW (out, in) += dyᵀ·x for layer's trainable weight {@code suffix}
    final void weightGrad(Grads g, int layer, String suffix, float[] dy, int lddy, float[] x, int ldx, int m, int in,
                          int out) {
        ModelParts.weightGrad(par, g, LanguageModelWeights.layerName(layer, suffix), dy, lddy, x, ldx, m, in, out);
    }

    // db (out) += Σ_rows dy for layer's trainable bias {@code suffix}
    static void biasGrad(Grads g, int layer, String suffix, float[] dy, int lddy, int m, int out) {
        ModelParts.biasGrad(g, LanguageModelWeights.layerName(layer, suffix), dy, lddy, m, out);
    }
}
