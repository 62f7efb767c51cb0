package org.ssmpeft.runtime.cpu;

import java.util.concurrent.ForkJoinPool;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.cpu.ModelParts.Grads;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;
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
 * Face name; the state extension (additional-scan) mapped per head ({@link SsdExtension}), its state the cache's
 * extra state.
 *
 * <p>The clamp of Δ acts in the forward and in the decoding step alike (a step is a chunk of one token), so step
 * equals forward: what mamba_ssm's training kernels compute ({@code _chunk_cumsum_fwd} clamps Δ to dt_limit). Both
 * mamba_ssm's {@code Mamba2.step} and transformers' decoding ({@code mamba2_selective_state_update}) skip the clamp,
 * so their own step disagrees with their forward whenever the limit binds.
 *
 * <p>{@link #lossAndGradients} keeps per layer the activations its backward needs and, for the scan, only the state
 * at each chunk's start: the backward recomputes inside a chunk ({@link Ssd#backward}). The model around the blocks
 * (embedding, norm_f, head, loss, their backward) is the family-neutral {@link CpuLanguageModel}'s. Thread-safe like
 * {@link CpuMamba}.
 */
public final class CpuMamba2 extends CpuLanguageModel<Mamba2Weights, CpuMamba2.Tape> {

    private final Mamba2Config config;
    private final int dm;    // d
    private final int di;    // D = H·P
    private final int cd;    // C = D + 2GN, the conv channels [x | B | C]
    private final int wd;    // W = D + C + H, in_proj's rows [z | xBC | dt]
    private final int heads; // H

    public CpuMamba2(Mamba2Weights weights) {
        this(weights, Parallel.defaultPool());
    }

    public CpuMamba2(Mamba2Weights weights, ForkJoinPool pool) {
        super(weights, pool, (w, l) -> w.layers().get(l).aLog());
        this.config = weights.config();
        this.dm = config.dModel();
        this.di = config.dInner();
        this.cd = config.convDim();
        this.wd = config.inProjWidth();
        this.heads = config.heads();
    }

    public Mamba2Config config() {
        return config;
    }

    // A used state continues only under the state extensions that wrote it; a fresh one gets their extra states.
    @Override
    void admit(RowPlans rows, HostState cache) {
        cache.requireExtraState(rows.extraStateWidths());
    }

    // Not yet in one pass (the chunked SSD scan has no per-row segments): a mixed-adapter batch runs row by row.
    @Override
    boolean mixesNatively() {
        return false;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    /** The activations of one layer: M = B·L residual rows, Mx = B·(n + L) mixer rows with a prefix of n. */
    static final class Tape extends CpuLanguageModel.Tape {
        final float[] proj;    // (Mx, W): [z | xBC | dt], z = 0 and [xBC | dt] = the prefix at virtual rows
        final float[] convPre; // (Mx, C) training only
        final float[] xbc;     // (Mx, C) silu(conv)
        final float[] dt;      // (Mx, H) Δ after softplus and clamp
        final float[] y;       // (Mx, D) the SSD output with the offsets, before the gated norm
        final float[] gated;   // (Mx, D) the gated norm's output
        final float[] yReal;   // (M, D) gated at the real positions
        final float[] checkpoints; // (B, chunks, H, P, N) training only
        float[] extStart;          // (B, D, n') the extra state before this call, training with a state extension

        Tape(Mamba2Config c, Rows rows, boolean training) {
            super(rows, c.dModel(), training);
            int m = Math.multiplyExact(rows.batch(), rows.len());
            int mx = Math.multiplyExact(rows.batch(), rows.lx());
            int di = c.dInner();
            proj = new float[Math.multiplyExact(mx, c.inProjWidth())];
            convPre = training ? new float[Math.multiplyExact(mx, c.convDim())] : null;
            xbc = new float[Math.multiplyExact(mx, c.convDim())];
            dt = new float[Math.multiplyExact(mx, c.heads())];
            y = new float[Math.multiplyExact(mx, di)];
            gated = new float[Math.multiplyExact(mx, di)];
            yReal = rows.prefix() == 0 ? gated : new float[Math.multiplyExact(m, di)];
            int chunks = (rows.lx() + c.chunkSize() - 1) / c.chunkSize();
            checkpoints = training ? new float[Math.multiplyExact(Math.multiplyExact(rows.batch(), chunks),
                    di * c.dState())] : null;
        }
    }

    // A fresh tape per layer: the virtual rows' z columns of proj rely on being zero as allocated.
    @Override
    Tape tape(Tape previous, Rows rows, boolean training) {
        return new Tape(config, rows, training);
    }

    private Ssd.Dims dims(Rows rows) {
        return new Ssd.Dims(rows.batch(), rows.lx(), config.heads(), config.headDim(), config.groups(),
                config.dState(), config.chunkSize());
    }

    /** Δ = clamp(softplus(dt + dt_bias), lo, hi) of mixer row r and head h, from in_proj's dt column. */
    private float softplusDt(float[] proj, int r, int h, float[] dtBias) {
        return Activations.softplus(proj[r * wd + di + cd + h] + dtBias[h]);
    }

    // One block: h <- h + out_proj(norm(SSD(...), z)), the residual stream h: (B, L, d) updated in place.
    @Override
    void mixer(int layer, float[] hidden, Tape t, HostState cache, CpuPlan<Mamba2Weights> plan, boolean training) {
        Mamba2LayerWeights w = plan.weights.layers().get(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        Rows rows = t.rows;
        int batch = rows.batch();
        int len = rows.len();
        int m = rows.m();
        int prefix = rows.prefix();
        int lx = rows.lx();
        int mx = rows.mx();

        // [z | xBC | dt] = in_proj(u): (M, d) -> (M, W), written at the real rows of (Mx, W)
        float[] real = prefix == 0 ? t.proj : new float[Math.multiplyExact(m, wd)];
        normAndInProj(hidden, t, real, w.norm(), w.inProj(), w.inProjBias().orElse(null), plan, layer, wd);
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
                float sp = softplusDt(t.proj, r, h, w.dtBias());
                t.dt[r * heads + h] = (float) Math.min(Math.max(sp, lo), hi);
            }
        }
        float[] state = cache.ssmState(layer);
        ModelParts.addInitialState(state, hooks.initialState(), batch);
        // y = SSD(x, Δ, A, B, C) + D·x + C·h' + y': (Mx, D), advancing the SSM state (B, H, P, N)
        Ssd.forward(par, t.y, t.xbc, cd, t.dt, plan.negA.get(layer), w.d(), state,
                hooks.stateOffset().map(Term::value).orElse(null), hooks.outputOffset().map(Term::value).orElse(null),
                t.checkpoints, dims(rows));
        // y += the state extension's read-out (additional-scan), advancing the extra state (B, H, P, n')
        if (hooks.extensionWidth() > 0) {
            HookPlan.Extension ext = hooks.extension().orElseThrow();
            if (training) {
                t.extStart = cache.extraState(layer).clone();
            }
            SsdExtension.forward(par, t.y, t.xbc, cd, t.dt, plan.extNegA(0, layer), ext.maps().value(),
                    cache.extraState(layer), extDims(rows, ext));
        }
        // norm(y, z): (Mx, D)
        GatedRmsNorm.forward(par, t.gated, t.y, t.proj, wd, 0, w.gateNorm(), mx, di, config.normGroupSize(),
                config.layerNormEpsilon());
        // h += out_proj(gated): (M, D) -> (M, d)
        float[] out = new float[Math.multiplyExact(m, dm)];
        outProjResidual(hidden, out, t.gated, t.yReal, w.outProj(), w.outProjBias().orElse(null), plan, layer,
                rows, di);
    }

    private SsdExtension.Dims extDims(Rows rows, HookPlan.Extension ext) {
        return new SsdExtension.Dims(rows.batch(), rows.lx(), heads, config.headDim(), ext.width());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    private static String name(int layer, String suffix) {
        return LanguageModelWeights.layerName(layer, suffix);
    }

    // dHidden: (M, d) the gradient of the block's output, updated in place to that of its input (when needInput)
    @Override
    void mixerBackward(int layer, float[] dHidden, Tape t, CpuPlan<Mamba2Weights> plan, Grads g, boolean needInput) {
        Mamba2LayerWeights w = plan.weights.layers().get(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        Rows rows = t.rows;
        int batch = rows.batch();
        int m = rows.m();
        int prefix = rows.prefix();
        int mx = rows.mx();

        // out = yReal·W_outᵀ + b + LoRA: (M, D) -> (M, d)
        float[] dGated = outProjBackward(layer, dHidden, t.yReal, w.outProj(), hooks, g, rows, di);

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
                t.checkpoints, dims(rows));
        if (dA != null) {
            ModelParts.logDecayBackward(g.base(name(layer, "mixer.A_log")), dA, a);
        }
        if (hooks.extensionWidth() > 0) {
            HookPlan.Extension ext = hooks.extension().orElseThrow();
            float[] negA = plan.extNegA(0, layer);
            float[] dNegA = new float[negA.length];
            float[] dMaps = new float[ext.maps().value().length];
            SsdExtension.backward(dxbc, ddt, dNegA, dMaps, dy, t.xbc, cd, t.dt, negA, ext.maps().value(), t.extStart,
                    extDims(rows, ext));
            for (int k = 0; k < dNegA.length; k++) {
                dNegA[k] *= negA[k]; // da' = dA' ⊙ A' (A' = -exp(a'))
            }
            g.addHook(ext.logDecay(), dNegA);
            g.addHook(ext.maps(), dMaps);
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
                float sp = softplusDt(t.proj, r, h, w.dtBias());
                float dpre = sp >= lo && sp <= hi ? ddt[r * heads + h] * Activations.softplusGradFromOutput(sp) : 0f;
                dProj[r * wd + di + cd + h] = dpre;
                if (dDtBias != null) {
                    dDtBias[h] += dpre;
                }
            }
        }

        // [x | B | C] = silu(conv(xBC) + b): into the xBC columns of dProj
        CausalConv1d.backwardSilu(par, dProj, di, wd, g.base(name(layer, "mixer.conv1d.weight")),
                g.base(name(layer, "mixer.conv1d.bias")), dxbc, t.convPre, t.proj, di, wd, w.convWeight(), batch, rows.lx(),
                cd, config.convKernel());
        float[] dReal2 = dProj;
        if (prefix > 0) {
            ModelParts.prefixBackward(dProj, wd, di, wd - di, rows, hooks.prefix().orElseThrow(), g);
            dReal2 = ModelParts.realRows(dProj, rows, wd);
        }

        // [z | xBC | dt] = RMSNorm(h)·W_inᵀ + b + LoRA: (M, d) -> (M, W); the residual adds dHidden itself
        inProjAndNormBackward(layer, dHidden, dReal2, wd, t, w.inProj(), w.norm(), hooks, g, needInput);
    }
}
