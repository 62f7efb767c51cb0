package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.HostStateModel;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.ModelParts.Grads;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;

/**
 * The Mamba-2 language model on the CPU in float32, computing what transformers' {@code Mamba2ForCausalLM} computes
 * (formats.md §6), with the PEFT hooks and a hand-derived backward. Symbols: B batch, L length, d d_model,
 * D = H·P d_inner, H heads, P head_dim, G groups, N d_state, C = D + 2GN conv channels, W = D + C + H in_proj rows,
 * K conv kernel, V vocab. Per block, residual r:
 * <pre>
 *   u = RMSNorm(r);  [z | xBC | dt] = in_proj(u)                       (M, W)
 *   [x | B | C] = silu(conv1d(xBC) + conv_bias)                         causal depthwise over C channels
 *   Δ = clamp(softplus(dt + dt_bias), time_step_limit);  A = -exp(A_log)  one per head
 *   y = SSD(x, Δ, A, B, C) + D·x + C·h' + y'                            {@link Ssd}, chunked; h0 seeds the state
 *   r += out_proj(GatedRMSNorm(y, z))                                   {@link GatedRmsNorm}
 * </pre>
 * Hooks (from the backend-neutral {@link HookPlan}): the prompt at the embedding; a prefix per layer prepended to the
 * [xBC | dt] part of in_proj's output, with z = 0 there and its outputs dropped; the initial state h0 (H, P, N) added
 * to a fresh state; the state offset h' (H, P, N) read out through the head's group of C and the output offset y'
 * (D), both before the gated norm; low-rank deltas on in_proj, out_proj and the head; parameter deltas by Hugging
 * Face name. The state extension (additional-scan) is a Mamba-1 hook and is refused.
 *
 * <p>The clamp of Δ acts in the forward and in the decoding step alike (a step is a chunk of one token), so step
 * equals forward: what mamba_ssm's training kernels compute ({@code _chunk_cumsum_fwd} clamps Δ to dt_limit). Both
 * mamba_ssm's {@code Mamba2.step} and transformers' decoding ({@code mamba2_selective_state_update}) skip the clamp,
 * so their own step disagrees with their forward whenever the limit binds.
 *
 * <p>{@link #lossAndGradients} keeps per layer the activations its backward needs and, for the scan, only the state
 * at each chunk's start: the backward recomputes inside a chunk ({@link Ssd#backward}). Thread-safe like
 * {@link CpuMamba}.
 */
public final class CpuMamba2 implements HostStateModel {

    private final Mamba2Weights weights;
    private final Mamba2Config config;
    private final Parallel par;
    private final List<float[]> negA; // per layer A = -exp(A_log): (H)

    public CpuMamba2(Mamba2Weights weights) {
        this(weights, Parallel.defaultPool());
    }

    public CpuMamba2(Mamba2Weights weights, ForkJoinPool pool) {
        this.weights = weights;
        this.config = weights.config();
        this.par = new Parallel(pool);
        var a = new ArrayList<float[]>();
        for (Mamba2LayerWeights l : weights.layers()) {
            a.add(CpuMamba.negA(l.aLog()));
        }
        this.negA = List.copyOf(a);
    }

    @Override
    public String backend() {
        return CpuBackendProvider.NAME;
    }

    @Override
    public Mamba2Weights spec() {
        return weights;
    }

    public Mamba2Config config() {
        return config;
    }

    /** The plan with what the CPU derives from it: effective weights and A per layer. */
    private record Plan(HookPlan hooks, Mamba2Weights weights, List<float[]> negA) {
        HookPlan.Layer layer(int l) {
            return hooks.layer(l);
        }

        int promptLength() {
            return hooks.promptLength();
        }
    }

    private Plan plan(AdapterSet adapters, HostState cache) {
        HookPlan hooks = HookPlan.resolve(weights, adapters, cache.isFresh());
        for (int l = 0; l < config.layers(); l++) {
            if (hooks.layer(l).extensionWidth() > 0) {
                throw new IllegalArgumentException("a state extension (additional-scan) acts on layer " + l
                        + ", but the cpu backend's Mamba-2 block has no extension hook: A is one scalar per head");
            }
        }
        if (hooks.parameterDeltas().isEmpty()) {
            return new Plan(hooks, weights, negA);
        }
        Map<String, float[]> replaced = CpuPlan.effective(hooks, weights.parameters());
        Mamba2Weights w = weights.with((name, array) -> replaced.getOrDefault(name, array));
        var a = new ArrayList<>(negA);
        for (int l = 0; l < a.size(); l++) {
            if (replaced.containsKey(MambaWeights.layerName(l, "mixer.A_log"))) {
                a.set(l, CpuMamba.negA(w.layers().get(l).aLog()));
            }
        }
        return new Plan(hooks, w, List.copyOf(a));
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        HostState cache = own(state, tokens.length);
        Plan plan = plan(adapters, cache);
        Pass p = run(tokens, plan, cache, false, false);
        return new Logits(p.logits, tokens.length, p.len, config.vocabSize(), plan.promptLength());
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        HostState cache = newState(tokens.length);
        return run(tokens, plan(adapters, cache), cache, true, false).kept;
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        HostState cache = newState(tokens.length);
        Plan plan = plan(adapters, cache);
        Pass p = run(tokens, plan, cache, false, false);
        int[] targets = plan.hooks.targets(tokens, labels);
        return CrossEntropy.forwardBackward(par, null, p.logits, targets, targets.length, config.vocabSize());
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        HostState cache = newState(tokens.length);
        Plan plan = plan(adapters, cache);
        Set<String> wanted = plan.hooks.gradientBaseNames(trainableBaseNames);
        int[] targets = plan.hooks.targets(tokens, labels);
        Pass pass = run(tokens, plan, cache, false, true);
        int v = config.vocabSize();
        float[] dlogits = new float[pass.logits.length];
        double loss = CrossEntropy.forwardBackward(par, dlogits, pass.logits, targets, tokens.length * pass.len, v);
        var g = new Grads(weights.parameters(), wanted);
        backward(tokens, plan, pass, dlogits, g);
        var logits = new Logits(pass.logits, tokens.length, pass.len, v, plan.promptLength());
        return plan.hooks.result(loss, HookPlan.targetCount(targets), logits, g.plan, trainableBaseNames);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    private record Pass(float[] logits, int len, List<float[]> kept, Tape[] tapes, float[] finalHidden,
                        float[] normedF) {
    }

    /** The activations of one layer: M = B·L residual rows, Mx = B·(n + L) mixer rows with a prefix of n. */
    private static final class Tape {
        final int lx;
        final float[] normed;  // (M, d)
        final float[] proj;    // (Mx, W): [z | xBC | dt], z = 0 and [xBC | dt] = the prefix at virtual rows
        final float[] convPre; // (Mx, C) training only
        final float[] xbc;     // (Mx, C) silu(conv)
        final float[] dt;      // (Mx, H) Δ after softplus and clamp
        final float[] y;       // (Mx, D) the SSD output with the offsets, before the gated norm
        final float[] gated;   // (Mx, D) the gated norm's output
        final float[] yReal;   // (M, D) gated at the real positions
        final float[] hiddenIn;    // (M, d) training only
        final float[] checkpoints; // (B, chunks, H, P, N) training only

        Tape(Mamba2Config c, int batch, int len, int prefix, boolean training) {
            int m = Math.multiplyExact(batch, len);
            lx = len + prefix;
            int mx = Math.multiplyExact(batch, lx);
            int di = c.dInner();
            normed = new float[Math.multiplyExact(m, c.dModel())];
            proj = new float[Math.multiplyExact(mx, c.inProjWidth())];
            convPre = training ? new float[Math.multiplyExact(mx, c.convDim())] : null;
            xbc = new float[Math.multiplyExact(mx, c.convDim())];
            dt = new float[Math.multiplyExact(mx, c.heads())];
            y = new float[Math.multiplyExact(mx, di)];
            gated = new float[Math.multiplyExact(mx, di)];
            yReal = prefix == 0 ? gated : new float[Math.multiplyExact(m, di)];
            hiddenIn = training ? new float[Math.multiplyExact(m, c.dModel())] : null;
            int chunks = (lx + c.chunkSize() - 1) / c.chunkSize();
            checkpoints = training ? new float[Math.multiplyExact(Math.multiplyExact(batch, chunks),
                    di * c.dState())] : null;
        }
    }

    private Ssd.Dims dims(int batch, int lx) {
        return new Ssd.Dims(batch, lx, config.heads(), config.headDim(), config.groups(), config.dState(),
                config.chunkSize());
    }

    private Pass run(int[][] tokens, Plan plan, HostState cache, boolean keepHiddenStates, boolean training) {
        int batch = tokens.length;
        HookPlan.checkTokens(tokens, batch, config.vocabSize());
        int len = plan.promptLength() + tokens[0].length;
        int m = Math.multiplyExact(batch, len);
        int dm = config.dModel();
        Mamba2Weights w = plan.weights;
        float[] hidden = ModelParts.embed(tokens, plan.hooks.prompt(), w.embedding(), dm, len);
        var kept = new ArrayList<float[]>();
        Tape[] tapes = training ? new Tape[config.layers()] : null;
        for (int i = 0; i < config.layers(); i++) {
            var tape = new Tape(config, batch, len, plan.layer(i).prefixLength(), training);
            if (training) {
                System.arraycopy(hidden, 0, tape.hiddenIn, 0, hidden.length);
                tapes[i] = tape;
            }
            mixer(i, hidden, tape, cache, plan, batch, len);
            if (keepHiddenStates) {
                kept.add(hidden.clone());
            }
        }
        cache.advance(len);
        float[] normed = new float[Math.multiplyExact(m, dm)];
        RmsNorm.forward(par, normed, hidden, w.normF(), m, dm, config.layerNormEpsilon());
        if (keepHiddenStates) {
            kept.add(normed.clone());
        }
        int v = config.vocabSize();
        float[] logits = new float[Math.multiplyExact(m, v)];
        // logits = norm_f(h) · lm_headᵀ (+ s·B(A·norm_f(h))): (B·L, d) x (V, d)ᵀ -> (B·L, V)
        Linear.forward(par, logits, normed, dm, w.lmHead(), null, m, dm, v);
        ModelParts.lowRank(par, plan.hooks.head(), logits, v, normed, dm, m);
        return new Pass(logits, len, kept, tapes, hidden, normed);
    }

    // One block: h <- h + out_proj(norm(SSD(...), z)), the residual stream h: (B, L, d) updated in place.
    private void mixer(int layer, float[] hidden, Tape t, HostState cache, Plan plan, int batch, int len) {
        Mamba2LayerWeights w = plan.weights.layers().get(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        int m = batch * len;
        int dm = config.dModel();
        int di = config.dInner();
        int cd = config.convDim();
        int wd = config.inProjWidth();
        int heads = config.heads();
        int prefix = hooks.prefixLength();
        int lx = t.lx;
        int mx = batch * lx;

        // u = RMSNorm(h): (M, d)
        RmsNorm.forward(par, t.normed, hidden, w.norm(), m, dm, config.layerNormEpsilon());
        // [z | xBC | dt] = in_proj(u): (M, d) -> (M, W), written at the real rows of (Mx, W)
        float[] real = prefix == 0 ? t.proj : new float[Math.multiplyExact(m, wd)];
        Linear.forward(par, real, t.normed, dm, w.inProj(), w.inProjBias().orElse(null), m, dm, wd);
        ModelParts.lowRank(par, hooks.deltas("in_proj"), real, wd, t.normed, dm, m);
        if (prefix > 0) {
            // [0 | P] at the n virtual rows: the gate z is 0 there
            float[] p = hooks.prefix().orElseThrow().value();
            int pw = wd - di;
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < prefix; i++) {
                    System.arraycopy(p, i * pw, t.proj, (b * lx + i) * wd + di, pw);
                }
                System.arraycopy(real, b * len * wd, t.proj, (b * lx + prefix) * wd, len * wd);
            }
        }
        // [x | B | C] = silu(conv1d(xBC) + bias): (Mx, C), continuing the conv state (B, C, K)
        CausalConv1d.forwardSilu(par, t.xbc, t.convPre, t.proj, di, wd, w.convWeight(), w.convBias().orElse(null),
                cache.convState(layer), batch, lx, cd, config.convKernel());
        // Δ = clamp(softplus(dt + dt_bias), lo, hi): (Mx, H)
        double lo = config.timeStepLimitMin();
        double hi = config.timeStepLimitMax();
        for (int r = 0; r < mx; r++) {
            for (int h = 0; h < heads; h++) {
                float sp = Activations.softplus(t.proj[r * wd + di + cd + h] + w.dtBias()[h]);
                t.dt[r * heads + h] = (float) Math.min(Math.max(sp, lo), hi);
            }
        }
        float[] state = cache.ssmState(layer);
        Optional<Term> h0 = hooks.initialState();
        if (h0.isPresent()) {
            // h_{-1} = h_state + Σh0 for every sequence (a fresh state is zero unless imported)
            float[] v = h0.get().value();
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < v.length; i++) {
                    state[b * v.length + i] += v[i];
                }
            }
        }
        // y = SSD(x, Δ, A, B, C) + D·x + C·h' + y': (Mx, D), advancing the SSM state (B, H, P, N)
        Ssd.forward(par, t.y, t.xbc, cd, t.dt, plan.negA.get(layer), w.d(), state,
                hooks.stateOffset().map(Term::value).orElse(null), hooks.outputOffset().map(Term::value).orElse(null),
                t.checkpoints, dims(batch, lx));
        // norm(y, z): (Mx, D)
        GatedRmsNorm.forward(par, t.gated, t.y, t.proj, wd, 0, w.gateNorm(), mx, di, config.normGroupSize(),
                config.layerNormEpsilon());
        if (prefix > 0) {
            for (int b = 0; b < batch; b++) {
                System.arraycopy(t.gated, (b * lx + prefix) * di, t.yReal, b * len * di, len * di);
            }
        }
        // h += out_proj(gated): (M, D) -> (M, d)
        float[] out = new float[Math.multiplyExact(m, dm)];
        Linear.forward(par, out, t.yReal, di, w.outProj(), w.outProjBias().orElse(null), m, di, dm);
        ModelParts.lowRank(par, hooks.deltas("out_proj"), out, dm, t.yReal, di, m);
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] += out[i];
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    private void backward(int[][] tokens, Plan plan, Pass pass, float[] dlogits, Grads g) {
        Mamba2Weights w = plan.weights;
        int batch = tokens.length;
        int len = pass.len;
        int m = batch * len;
        int dm = config.dModel();
        int v = config.vocabSize();
        int layers = config.layers();

        boolean embeddingNeedsGrad = g.base(MambaWeights.EMBEDDING) != null || plan.promptLength() > 0;
        boolean[] trainableIn = new boolean[layers];
        int lowest = embeddingNeedsGrad ? 0 : layers;
        for (int l = layers - 1; l >= 0; l--) {
            String prefix = MambaWeights.layerName(l, "");
            trainableIn[l] = plan.layer(l).hasHooks() || g.wanted.stream().anyMatch(n -> n.startsWith(prefix));
            if (trainableIn[l]) {
                lowest = Math.min(lowest, l);
            }
        }
        boolean throughLayers = lowest < layers;

        // head: logits = normedF·Wᵀ + Σ s·(normedF·Aᵀ)·Bᵀ
        String headName = config.tieWordEmbeddings() ? MambaWeights.EMBEDDING : MambaWeights.LM_HEAD;
        float[] dNormedF = null;
        if (throughLayers || g.base(MambaWeights.NORM_F) != null) {
            dNormedF = new float[m * dm];
            Linear.backwardInput(par, dNormedF, dm, dlogits, 0, v, w.lmHead(), 1f, m, dm, v, false);
        }
        ModelParts.lowRankBackward(par, plan.hooks.head(), dlogits, v, pass.normedF, dm, dNormedF, dm, m, g);
        if (g.base(headName) != null) {
            Linear.backwardWeight(par, g.base(headName), dlogits, 0, v, pass.normedF, dm, 1f, m, dm, v);
        }
        if (dNormedF == null) {
            return;
        }
        float[] dHidden = throughLayers ? new float[m * dm] : null;
        RmsNorm.backward(par, dHidden, g.base(MambaWeights.NORM_F), dNormedF, pass.finalHidden, w.normF(), m, dm,
                config.layerNormEpsilon(), false);
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
            mixerBackward(l, dHidden, pass.tapes[l], plan, g, batch, len, needInput[l]);
        }
        ModelParts.embeddingBackward(tokens, dHidden, g.base(MambaWeights.EMBEDDING), plan.hooks.prompt(), dm, len, g);
    }

    private static String name(int layer, String suffix) {
        return MambaWeights.layerName(layer, suffix);
    }

    // dHidden: (M, d) the gradient of the block's output, updated in place to that of its input (when needInput)
    private void mixerBackward(int layer, float[] dHidden, Tape t, Plan plan, Grads g, int batch, int len,
                               boolean needInput) {
        Mamba2LayerWeights w = plan.weights.layers().get(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        int m = batch * len;
        int dm = config.dModel();
        int di = config.dInner();
        int cd = config.convDim();
        int wd = config.inProjWidth();
        int heads = config.heads();
        int prefix = hooks.prefixLength();
        int lx = t.lx;
        int mx = batch * lx;

        // out = yReal·W_outᵀ + b + LoRA: (M, D) -> (M, d)
        float[] dReal = new float[m * di];
        Linear.backwardInput(par, dReal, di, dHidden, 0, dm, w.outProj(), 1f, m, di, dm, false);
        ModelParts.lowRankBackward(par, hooks.deltas("out_proj"), dHidden, dm, t.yReal, di, dReal, di, m, g);
        ModelParts.weightGrad(par, g, name(layer, "mixer.out_proj.weight"), dHidden, dm, t.yReal, di, m, di, dm);
        ModelParts.biasGrad(g, name(layer, "mixer.out_proj.bias"), dHidden, dm, m, dm);
        float[] dGated = dReal;
        if (prefix > 0) {
            dGated = new float[mx * di]; // the virtual positions' outputs were dropped: no gradient there
            for (int b = 0; b < batch; b++) {
                System.arraycopy(dReal, b * len * di, dGated, (b * lx + prefix) * di, len * di);
            }
        }

        // gated = norm(y, z): dy (Mx, D), dz into the z columns of dProj (Mx, W)
        float[] dProj = new float[mx * wd];
        float[] dy = new float[mx * di];
        GatedRmsNorm.backward(par, dy, dProj, wd, g.base(name(layer, "mixer.norm.weight")), dGated, t.y, t.proj, wd,
                0, w.gateNorm(), mx, di, config.normGroupSize(), config.layerNormEpsilon());

        // y = SSD(...) + D·x + C·h' + y'
        float[] dxbc = new float[mx * cd];
        float[] ddt = new float[mx * heads];
        float[] a = plan.negA.get(layer);
        float[] dA = g.base(name(layer, "mixer.A_log")) == null ? null : new float[heads];
        float[] hOffGrad = hooks.stateOffset().isEmpty() ? null : new float[di * config.dState()];
        float[] yOffGrad = hooks.outputOffset().isEmpty() ? null : new float[di];
        float[] dh0 = hooks.initialState().isEmpty() ? null : new float[batch * di * config.dState()];
        var sg = new Ssd.Grads(dxbc, cd, ddt, dA, g.base(name(layer, "mixer.D")), hOffGrad, yOffGrad, dh0);
        Ssd.backward(par, sg, dy, t.xbc, cd, t.dt, a, w.d(), hooks.stateOffset().map(Term::value).orElse(null),
                t.checkpoints, dims(batch, lx));
        if (dA != null) {
            float[] dALog = g.base(name(layer, "mixer.A_log"));
            for (int h = 0; h < heads; h++) {
                dALog[h] += dA[h] * a[h]; // a = -exp(A_log): da/dA_log = a
            }
        }
        hooks.stateOffset().ifPresent(term -> g.addHook(term, hOffGrad));
        hooks.outputOffset().ifPresent(term -> g.addHook(term, yOffGrad));
        hooks.initialState().ifPresent(term -> {
            int hs = di * config.dState(); // h0 acts on every sequence: its gradient is the batch's sum
            float[] sum = new float[hs];
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < hs; i++) {
                    sum[i] += dh0[b * hs + i];
                }
            }
            g.addHook(term, sum);
        });

        // Δ = clamp(softplus(pre), lo, hi), pre = dt + dt_bias: the clamp passes the gradient inside [lo, hi]
        float[] dDtBias = g.base(name(layer, "mixer.dt_bias"));
        double lo = config.timeStepLimitMin();
        double hi = config.timeStepLimitMax();
        for (int r = 0; r < mx; r++) {
            for (int h = 0; h < heads; h++) {
                float sp = Activations.softplus(t.proj[r * wd + di + cd + h] + w.dtBias()[h]);
                float dpre = sp >= lo && sp <= hi ? ddt[r * heads + h] * Activations.softplusGradFromOutput(sp) : 0f;
                dProj[r * wd + di + cd + h] = dpre;
                if (dDtBias != null) {
                    dDtBias[h] += dpre;
                }
            }
        }

        // [x | B | C] = silu(conv(xBC) + b): into the xBC columns of dProj
        CausalConv1d.backwardSilu(par, dProj, di, wd, g.base(name(layer, "mixer.conv1d.weight")),
                g.base(name(layer, "mixer.conv1d.bias")), dxbc, t.convPre, t.proj, di, wd, w.convWeight(), batch, lx,
                cd, config.convKernel());
        float[] dReal2 = dProj;
        if (prefix > 0) {
            int pw = wd - di;
            float[] dPrefix = new float[prefix * pw]; // P is shared by the batch rows
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < prefix; i++) {
                    int row = (b * lx + i) * wd + di;
                    for (int c = 0; c < pw; c++) {
                        dPrefix[i * pw + c] += dProj[row + c];
                    }
                }
            }
            g.addHook(hooks.prefix().orElseThrow(), dPrefix);
            dReal2 = new float[m * wd];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(dProj, (b * lx + prefix) * wd, dReal2, b * len * wd, len * wd);
            }
        }

        // [z | xBC | dt] = normed·W_inᵀ + b + LoRA: (M, d) -> (M, W)
        float[] dNormWeight = g.base(name(layer, "norm.weight"));
        float[] dNormed = null;
        if (needInput || dNormWeight != null) {
            dNormed = new float[m * dm];
            Linear.backwardInput(par, dNormed, dm, dReal2, 0, wd, w.inProj(), 1f, m, dm, wd, false);
        }
        ModelParts.lowRankBackward(par, hooks.deltas("in_proj"), dReal2, wd, t.normed, dm, dNormed, dm, m, g);
        ModelParts.weightGrad(par, g, name(layer, "mixer.in_proj.weight"), dReal2, wd, t.normed, dm, m, dm, wd);
        ModelParts.biasGrad(g, name(layer, "mixer.in_proj.bias"), dReal2, wd, m, wd);

        // normed = RMSNorm(h); the residual adds dHidden itself
        if (dNormed != null) {
            RmsNorm.backward(par, needInput ? dHidden : null, dNormWeight, dNormed, t.hiddenIn, w.norm(), m, dm,
                    config.layerNormEpsilon(), true);
        }
    }
}
