package org.ssmpeft.runtime.cpu;

import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.ModelParts.Grads;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;
import org.ssmpeft.runtime.plan.Term;

/**
 * The Mamba-1 language model on the CPU in float32, computing exactly transformers' pure-PyTorch path
 * ({@code MambaForCausalLM}; formats.md §5, DESIGN.md §3), with every PEFT hook and a hand-derived backward.
 * Symbols: B batch, L length, d d_model, D d_inner, N d_state, R dt_rank, K conv kernel, V vocab, P virtual tokens.
 *
 * <p>{@link #forward} runs a (B, L) block of tokens and advances a {@link HostState} (the cpu backend's state lives
 * on the host); {@link #step} is the same
 * with L = 1, the recurrent decode. Because the conv and scan kernels continue from the cache, a prompt can be fed
 * whole, in chunks, or token by token with the same result.
 *
 * <p>Hooks (resolved per call by the backend-neutral {@link HookPlan}, contributions of acting adapters summed): the prompt at the
 * embedding, a prefix per layer prepended to the conv input x (gate 0, outputs dropped), the initial state added to a
 * fresh cache's SSM state, state and output offsets in the scan read-out, low-rank deltas after each projection
 * (inside softplus for dt_proj), parameter deltas on the base weights, and state extensions (additional-scan) as a
 * second scan over the same x, Δ and gate with their own A', B'_t = E_B x_t, C'_t = E_C x_t, whose gated read-out adds
 * to y and whose state the cache carries as its extra state.
 *
 * <p>{@link #lossAndGradients} keeps per layer the activations the backward needs and, for the scan, the state only
 * every {@link #SCAN_CHUNK} steps: the backward recomputes states chunk by chunk, so scan memory is
 * O(B·D·N·L / chunk). Frozen weights get no weight gradient, and layers below the lowest trainable thing are not
 * back-propagated at all.
 *
 * <p>The embedding, the walk over the blocks, norm_f, the head, the loss and their backward are the family-neutral
 * {@link CpuLanguageModel}'s; this class is the Mamba-1 block. Thread-safe: calls share only the read-only weights;
 * each call has its own buffers and its caller's cache.
 */
public final class CpuMamba extends CpuLanguageModel<MambaWeights, CpuMamba.LayerBuffers> {

    /** Scan steps between stored states in the training forward; the backward recomputes inside a chunk. */
    public static final int SCAN_CHUNK = 64;

    /** What one forward call produced. */
    public record Output(float[] logits, int batch, int length, int vocab, List<float[]> hiddenStates,
                         HostState cache) {
        /**
         * @param logits       (B, L, V)
         * @param hiddenStates empty unless requested; else per block the residual stream after it (B, L, d), then
         *                     the output of norm_f (B, L, d): transformers' {@code output_hidden_states}
         * @param cache        the cache after the last token
         */
        public Output {
            hiddenStates = List.copyOf(hiddenStates);
        }
    }

    private final MambaConfig config;
    private final int scanChunk;

    /** Uses a shared pool with one worker per available processor (daemon threads). */
    public CpuMamba(MambaWeights weights) {
        this(weights, Parallel.defaultPool());
    }

    public CpuMamba(MambaWeights weights, ForkJoinPool pool) {
        this(weights, pool, SCAN_CHUNK);
    }

    /** With another scan chunk (tests: the chunked backward against chunk = L). */
    CpuMamba(MambaWeights weights, ForkJoinPool pool, int scanChunk) {
        super(weights, pool, (w, l) -> w.layers().get(l).aLog());
        if (scanChunk <= 0) {
            throw new IllegalArgumentException("scan chunk must be > 0, found " + scanChunk);
        }
        this.config = weights.config();
        this.scanChunk = scanChunk;
    }

    public MambaConfig config() {
        return config;
    }

    public MambaWeights weights() {
        return weights;
    }

    /** Full forward of fresh sequences (B, L) -> logits (B, L, V), with the cache after the last token. */
    public Output forward(int[][] tokens) {
        return forward(tokens, newState(tokens.length), false);
    }

    /**
     * Runs tokens (B, L) from the state in {@code cache} (advanced in place) -> logits (B, L, V).
     *
     * @param keepHiddenStates also return the residual stream after every block and after norm_f
     */
    public Output forward(int[][] tokens, HostState cache, boolean keepHiddenStates) {
        return forward(tokens, noAdapters(), cache, keepHiddenStates);
    }

    /**
     * Runs tokens (B, T) with the hooks of the acting adapters from the state in {@code cache} (advanced in place).
     * With a prompt on a fresh cache the output has P + T positions per row.
     */
    public Output forward(int[][] tokens, AdapterSet adapters, HostState cache, boolean keepHiddenStates) {
        own(cache, tokens.length);
        Pass<LayerBuffers> p = run(tokens, plan(adapters, cache), cache, keepHiddenStates, false);
        int batch = cache.batch();
        return new Output(p.logits(), batch, p.len(), p.logits().length / (batch * p.len()), p.kept(), cache);
    }

    /** One decode step of the plain model: one token per sequence (B) -> logits (B, V), advancing {@code cache}. */
    public float[] step(int[] tokens, HostState cache) {
        return step(tokens, noAdapters(), cache);
    }

    // A used state continues only under the state extensions that wrote it; a fresh one gets their extra states.
    @Override
    void admit(RowPlans rows, HostState cache) {
        cache.requireExtraState(rows.extraStateWidths());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    /**
     * The activations of one layer. M = B·L rows of the residual stream, Mx = B·(n + L) rows inside the mixer when a
     * prefix of n virtual tokens is prepended to x (else Mx = M and the extended arrays are the plain ones).
     */
    static final class LayerBuffers extends Tape {
        final float[] xz;      // (M, 2D): [x | z] per row
        final float[] xzExt;   // (Mx, 2D): [P; x | 0; z]
        final float[] convPre; // (Mx, D) pre-activation of the conv, training only
        final float[] xc;      // (Mx, D): silu(conv(x))
        final float[] xdbl;    // (Mx, R + 2N): [dt_low | B | C] per row
        final float[] dt;      // (Mx, D) after softplus
        final float[] y;       // (Mx, D)
        final float[] yReal;   // (M, D): y at the real positions
        final float[] out;     // (M, d)
        final float[] checkpoints; // (B, ceil(Lx/chunk), D, N), training only
        float[] extBc;             // (Mx, 2n') [B' | C'] of the state extension, when one acts
        float[] extCheckpoints;    // (B, ceil(Lx/chunk), D, n'), training with a state extension only

        LayerBuffers(MambaConfig c, Rows rows, boolean training, int chunk) {
            super(rows, c.dModel(), training);
            int dm = c.dModel();
            int di = c.dInner();
            int m = Math.multiplyExact(rows.batch(), rows.len());
            int mx = Math.multiplyExact(rows.batch(), rows.lx());
            xz = new float[Math.multiplyExact(m, 2 * di)];
            xzExt = rows.prefix() == 0 ? xz : new float[Math.multiplyExact(mx, 2 * di)];
            convPre = training ? new float[Math.multiplyExact(mx, di)] : null;
            xc = new float[Math.multiplyExact(mx, di)];
            xdbl = new float[Math.multiplyExact(mx, c.dtRank() + 2 * c.dState())];
            dt = new float[Math.multiplyExact(mx, di)];
            y = new float[Math.multiplyExact(mx, di)];
            yReal = rows.prefix() == 0 ? y : new float[Math.multiplyExact(m, di)];
            out = new float[Math.multiplyExact(m, dm)];
            int chunks = (rows.lx() + chunk - 1) / chunk;
            checkpoints = training ? new float[Math.multiplyExact(Math.multiplyExact(rows.batch(), chunks),
                    c.dInner() * c.dState())] : null;
        }
    }

    // Layers of the same rows share one set of buffers outside training (every buffer is overwritten).
    @Override
    LayerBuffers tape(LayerBuffers previous, Rows rows, boolean training) {
        return training || previous == null || !previous.rows.equals(rows)
                ? new LayerBuffers(config, rows, training, scanChunk) : previous;
    }

    // One block: h <- h + out_proj(scan(...)), the residual stream h: (B, L, d) updated in place. The products run over
    // every row; each segment of rows (RowPlans) gets its own hooks on its own rows.
    @Override
    void mixer(int layer, float[] hidden, LayerBuffers buf, HostState cache, CpuPlan<MambaWeights> plan,
               boolean training) {
        LayerWeights w = plan.weights.layers().get(layer);
        List<RowPlans.Segment> segments = plan.segments();
        Rows rows = buf.rows;
        int len = rows.len();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int xw = r + 2 * n;
        int prefix = rows.prefix();
        int lx = rows.lx();
        int mx = rows.mx();

        // [x | z] = in_proj(u): (M, d) -> (M, 2D)
        normAndInProj(hidden, buf, buf.xz, w.norm(), w.inProj(), w.inProjBias().orElse(null), plan, layer, 2 * di);
        if (prefix > 0) {
            // [P; x | 0; z]: (Mx, 2D), the virtual tokens' gate is 0; a row's n_b prefix rows end where its tokens
            // start, at virtual row P = max_b n_b (rows with a shorter prefix leave the first P - n_b unused)
            java.util.Arrays.fill(buf.xzExt, 0f);
            for (RowPlans.Segment s : segments) {
                HookPlan.Layer hooks = s.plan().layer(layer);
                int nb = hooks.prefixLength();
                for (int b = s.first(); b < s.end(); b++) {
                    for (int i = 0; i < nb; i++) {
                        System.arraycopy(hooks.prefix().orElseThrow().value(), i * di, buf.xzExt,
                                (b * lx + prefix - nb + i) * 2 * di, di);
                    }
                    System.arraycopy(buf.xz, b * len * 2 * di, buf.xzExt, (b * lx + prefix) * 2 * di, len * 2 * di);
                }
            }
        }
        // x = silu(conv1d(x) + bias): (Mx, D), continuing the conv state (B, D, K), each row from its first prefix row
        long t0 = CpuProfile.start();
        for (RowPlans.Segment s : segments) {
            CausalConv1d.forwardSilu(par, buf.xc, buf.convPre, buf.xzExt, 0, 2 * di, w.convWeight(),
                    w.convBias().orElse(null), cache.convState(layer), s.first(), s.rows(), start(s, layer, prefix),
                    lx, di, config.convKernel());
        }
        t0 = CpuProfile.lap(CpuProfile.Part.CONV, t0);
        // [dt_low | B | C] = x_proj(x): (Mx, D) -> (Mx, R + 2N)
        Linear.forward(par, buf.xdbl, buf.xc, di, w.xProj(), null, mx, di, xw);
        ModelParts.lowRank(par, segments, p -> p.layer(layer).deltas("x_proj"), buf.xdbl, xw, buf.xc, di, lx);
        t0 = CpuProfile.lap(CpuProfile.Part.X_PROJ, t0);
        // dt = softplus(dt_proj(dt_low) + bias): (Mx, R) -> (Mx, D)
        Linear.forward(par, buf.dt, buf.xdbl, xw, w.dtProj(), w.dtProjBias(), mx, r, di);
        ModelParts.lowRank(par, segments, p -> p.layer(layer).deltas("dt_proj"), buf.dt, di, buf.xdbl, xw, lx);
        par.forRange(buf.dt.length, 1, 1 << 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                buf.dt[i] = Activations.softplus(buf.dt[i]);
            }
        });
        t0 = CpuProfile.lap(CpuProfile.Part.DT_PROJ, t0);
        float[] state = cache.ssmState(layer);
        float[] yExt = null;
        for (int si = 0; si < segments.size(); si++) {
            RowPlans.Segment s = segments.get(si);
            HookPlan.Layer hooks = s.plan().layer(layer);
            ModelParts.addInitialState(state, hooks.initialState(), s.first(), s.rows());
            float[] hOffset = hooks.stateOffset().map(Term::value).orElse(null);
            float[] yOffset = hooks.outputOffset().map(Term::value).orElse(null);
            // y = (C·(h + h') + D·x + y') · silu(z): (Mx, D), advancing the SSM state (B, D, N)
            SelectiveScan.forward(par, buf.y, buf.xc, buf.dt, plan.negA.get(layer), buf.xdbl, xw, r, w.d(),
                    buf.xzExt, 2 * di, di, state, hOffset, yOffset, buf.checkpoints, scanChunk, s.first(), s.rows(),
                    start(s, layer, prefix), lx, di, n);
            if (hooks.extensionWidth() > 0) { // every row's width is the same (RowPlans)
                if (yExt == null) {
                    yExt = new float[mx * di];
                    buf.extBc = new float[Math.multiplyExact(mx, 2 * hooks.extensionWidth())];
                }
                extensionForward(layer, buf, yExt, cache, plan, si, start(s, layer, prefix), training);
            }
        }
        if (yExt != null) {
            for (int i = 0; i < yExt.length; i++) {
                buf.y[i] += yExt[i];
            }
        }
        CpuProfile.lap(CpuProfile.Part.SCAN, t0);
        // h += out_proj(y): (M, D) -> (M, d)
        outProjResidual(hidden, buf.out, buf.y, buf.yReal, w.outProj(), w.outProjBias().orElse(null), plan, layer,
                rows, di);
    }

    // where segment s's rows start in their mixer block: after the virtual rows their prefix does not use
    private static int start(RowPlans.Segment s, int layer, int prefix) {
        return prefix - s.plan().layer(layer).prefixLength();
    }

    // State extension (additional-scan) of segment si's rows: its n' state dimensions are independent of the base N, so
    // the scan of width N + n' is the base scan plus this one over the same x, Δ and gate, without skip term:
    // [B' | C'] = x·[E_B; E_C]ᵀ: (Mx, D) -> (Mx, 2n');  yExt = (C'_t·h'_t)·silu(z_t), h' (B, D, n') the cache's extra
    // state
    private void extensionForward(int layer, LayerBuffers buf, float[] yExt, HostState cache,
                                  CpuPlan<MambaWeights> plan, int si, int start, boolean training) {
        RowPlans.Segment s = plan.segments().get(si);
        int di = config.dInner();
        HookPlan.Extension ext = s.plan().layer(layer).extension().orElseThrow();
        int ne = ext.width();
        int lx = buf.rows.lx();
        int row0 = s.first() * lx;
        Gemm.abT(par, buf.xc, row0 * di, di, ext.maps().value(), 0, di, null, buf.extBc, row0 * 2 * ne, 2 * ne,
                s.rows() * lx, 2 * ne, di);
        buf.extCheckpoints = training ? new float[Math.multiplyExact(Math.multiplyExact(buf.rows.batch(),
                (lx + scanChunk - 1) / scanChunk), di * ne)] : null;
        SelectiveScan.forward(par, yExt, buf.xc, buf.dt, plan.extNegA(si, layer), buf.extBc, 2 * ne, 0,
                new float[di], buf.xzExt, 2 * di, di, cache.extraState(layer), null, null, buf.extCheckpoints,
                scanChunk, s.first(), s.rows(), start, lx, di, ne);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    // dHidden: (M, d) the gradient of the block's output, updated in place to that of its input (when needInput)
    @Override
    void mixerBackward(int layer, float[] dHidden, LayerBuffers tape, CpuPlan<MambaWeights> plan, Grads g,
                       boolean needInput) {
        LayerWeights w = plan.weights.layers().get(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        Rows rows = tape.rows;
        int batch = rows.batch();
        int m = rows.m();
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int k = config.convKernel();
        int xw = r + 2 * n;
        int prefix = rows.prefix();
        int lx = rows.lx();
        int mx = rows.mx();

        // out = yReal·W_outᵀ + b + LoRA: (M, D) -> (M, d)
        float[] dy = outProjBackward(layer, dHidden, tape.yReal, w.outProj(), hooks, g, rows, di);

        // scan
        long t0 = CpuProfile.start();
        float[] dxc = new float[mx * di];
        float[] ddt = new float[mx * di];
        float[] dxdbl = new float[mx * xw];
        float[] dxzExt = new float[mx * 2 * di];
        float[] aGrad = g.base(MambaWeights.layerName(layer, "mixer.A_log")) == null ? null : new float[di * n];
        float[] hOffGrad = hooks.stateOffset().isEmpty() ? null : new float[di * n];
        float[] yOffGrad = hooks.outputOffset().isEmpty() ? null : new float[di];
        float[] h0Grad = hooks.initialState().isEmpty() ? null : new float[di * n];
        var sg = new SelectiveScan.Grads(dxc, ddt, dxdbl, dxzExt, aGrad,
                g.base(MambaWeights.layerName(layer, "mixer.D")), hOffGrad, yOffGrad, h0Grad);
        float[] a = plan.negA.get(layer);
        SelectiveScan.backward(par, sg, dy, tape.xc, tape.dt, a, tape.xdbl, xw, r, w.d(), tape.xzExt, 2 * di, di,
                tape.checkpoints, scanChunk, hooks.stateOffset().map(Term::value).orElse(null),
                hooks.outputOffset().map(Term::value).orElse(null), batch, lx, di, n);
        if (aGrad != null) {
            ModelParts.logDecayBackward(g.base(MambaWeights.layerName(layer, "mixer.A_log")), aGrad, a);
        }
        hooks.stateOffset().ifPresent(t -> g.addHook(t, hOffGrad));
        hooks.outputOffset().ifPresent(t -> g.addHook(t, yOffGrad));
        hooks.initialState().ifPresent(t -> g.addHook(t, h0Grad));
        if (hooks.extensionWidth() > 0) {
            extensionBackward(dy, tape, hooks.extension().orElseThrow(), plan.extNegA(0, layer), g, dxc, ddt, dxzExt, batch,
                    lx);
        }

        t0 = CpuProfile.lap(CpuProfile.Part.SCAN_BACKWARD, t0);
        // dt = softplus(pre), pre = dt_low·W_dtᵀ + b + LoRA: (Mx, R) -> (Mx, D)
        par.forRange(ddt.length, 1, 1 << 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                ddt[i] *= Activations.softplusGradFromOutput(tape.dt[i]);
            }
        });
        Linear.backwardInput(par, dxdbl, xw, ddt, 0, di, w.dtProj(), 1f, mx, r, di, false);
        ModelParts.lowRankBackward(par, hooks.deltas("dt_proj"), ddt, di, tape.xdbl, xw, dxdbl, xw, mx, g);
        weightGrad(g, layer, "mixer.dt_proj.weight", ddt, di, tape.xdbl, xw, mx, r, di);
        biasGrad(g, layer, "mixer.dt_proj.bias", ddt, di, mx, di);
        t0 = CpuProfile.lap(CpuProfile.Part.DT_PROJ_BACKWARD, t0);

        // xdbl = xc·W_xᵀ + LoRA: (Mx, D) -> (Mx, R + 2N)
        Linear.backwardInput(par, dxc, di, dxdbl, 0, xw, w.xProj(), 1f, mx, di, xw, true);
        ModelParts.lowRankBackward(par, hooks.deltas("x_proj"), dxdbl, xw, tape.xc, di, dxc, di, mx, g);
        weightGrad(g, layer, "mixer.x_proj.weight", dxdbl, xw, tape.xc, di, mx, di, xw);
        t0 = CpuProfile.lap(CpuProfile.Part.X_PROJ_BACKWARD, t0);

        // xc = silu(conv(x) + b): into the x half of dxzExt (the z half came from the scan)
        CausalConv1d.backwardSilu(par, dxzExt, 2 * di, g.base(MambaWeights.layerName(layer, "mixer.conv1d.weight")),
                g.base(MambaWeights.layerName(layer, "mixer.conv1d.bias")), dxc, tape.convPre, tape.xzExt, 2 * di,
                w.convWeight(), batch, lx, di, k);
        CpuProfile.lap(CpuProfile.Part.CONV_BACKWARD, t0);
        float[] dxz = dxzExt;
        if (prefix > 0) {
            ModelParts.prefixBackward(dxzExt, 2 * di, 0, di, rows, hooks.prefix().orElseThrow(), g);
            dxz = ModelParts.realRows(dxzExt, rows, 2 * di);
        }

        // [x | z] = RMSNorm(h)·W_inᵀ + b + LoRA: (M, d) -> (M, 2D); the residual adds dHidden itself
        inProjAndNormBackward(layer, dHidden, dxz, 2 * di, tape, w.inProj(), w.norm(), hooks, g, needInput);
    }

    // The state extension's scan backward (chunked recompute from its own checkpoints, like the base scan):
    // dx, dΔ and dz get its contributions (+=), [dB' | dC'] (Mx, 2n') goes through [B' | C'] = x·[E_B; E_C]ᵀ to
    // d[E_B; E_C] += [dB' | dC']ᵀ·x and dx += [dB' | dC']·[E_B; E_C], and da' = dA'·A' (A' = -exp(a')).
    private void extensionBackward(float[] dy, LayerBuffers tape, HookPlan.Extension ext, float[] extNegA, Grads g, float[] dxc,
                                   float[] ddt, float[] dxzExt, int batch, int lx) {
        int di = config.dInner();
        int ne = ext.width();
        int mx = batch * lx;
        float[] dxExt = new float[mx * di];
        float[] ddtExt = new float[mx * di];
        float[] dbcExt = new float[mx * 2 * ne];
        float[] dzExt = new float[mx * 2 * di];
        float[] dNegA = new float[di * ne];
        var eg = new SelectiveScan.Grads(dxExt, ddtExt, dbcExt, dzExt, dNegA, null, null, null, null);
        SelectiveScan.backward(par, eg, dy, tape.xc, tape.dt, extNegA, tape.extBc, 2 * ne, 0, new float[di],
                tape.xzExt, 2 * di, di, tape.extCheckpoints, scanChunk, null, null, batch, lx, di, ne);
        for (int i = 0; i < dxExt.length; i++) {
            dxc[i] += dxExt[i];
            ddt[i] += ddtExt[i];
        }
        for (int row = 0; row < mx; row++) {
            for (int c = di; c < 2 * di; c++) {
                dxzExt[row * 2 * di + c] += dzExt[row * 2 * di + c];
            }
        }
        float[] dMaps = new float[2 * ne * di];
        Linear.backwardWeight(par, dMaps, dbcExt, 0, 2 * ne, tape.xc, di, 1f, mx, di, 2 * ne);
        Linear.backwardInput(par, dxc, di, dbcExt, 0, 2 * ne, ext.maps().value(), 1f, mx, di, 2 * ne, true);
        // da' = dA' ⊙ A' (A' = -exp(a')); the plan sends each extension its columns and rows
        float[] da = new float[di * ne];
        for (int k = 0; k < da.length; k++) {
            da[k] = dNegA[k] * extNegA[k];
        }
        g.addHook(ext.logDecay(), da);
        g.addHook(ext.maps(), dMaps);
    }


}
