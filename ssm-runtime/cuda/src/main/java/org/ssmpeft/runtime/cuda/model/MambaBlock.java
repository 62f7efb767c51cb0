package org.ssmpeft.runtime.cuda.model;

import java.util.List;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.cuda.layers.DecodeKernels;
import org.ssmpeft.runtime.cuda.scan.ScanLayout;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;

/**
 * The Mamba-1 block on the device, float32 (the products in the model's precision, {@link ModelProducts}), forward
 * and backward side by side (the device twin of the cpu's {@code CpuMamba.mixer} / {@code mixerBackward} with
 * {@code CpuLanguageModel}'s shell). Symbols: B batch, L length, d d_model, D d_inner, N d_state, R dt_rank, K conv
 * kernel, n prefix rows, n' extension width.
 * <pre>
 *   u = RMSNorm(h)                                           (M, d)
 *   [x | z] = u·W_inᵀ + b + Σ LoRA                           (M, 2D)
 *   [P; x | 0; z]                                            (Mx, 2D)  a prefix's virtual tokens, gate 0
 *   x = silu(conv1d(x) + b_conv)                             (Mx, D)   continuing the conv state (B, D, K)
 *   [dt_low | B | C] = x·W_xᵀ + Σ LoRA                       (Mx, R + 2N)
 *   Δ = softplus(dt_low·W_dtᵀ + b_dt + Σ LoRA)               (Mx, D)
 *   [B' | C'] = x·[E_B; E_C]ᵀ                                (Mx, 2n')  a state extension's read-in and read-out
 *   y = scan(x, Δ, A, B, C, D, z; h_{-1} + Σh0, h', y', A', B', C')   (Mx, D)  the fused kernel, N + n' states
 *   h += y_real·W_outᵀ + b + Σ LoRA                          (M, d)
 * </pre>
 * The scan kernel carries the extension's n' states in the same recurrence as the base N (its own A', B'_t, C'_t, no
 * offset, no skip), which is the cpu's second scan over the same x, Δ and gate, summed into y.
 */
final class MambaBlock {

    private final MambaConfig config;
    private final DeviceMemory memory;
    private final LayerOps k;
    private final ProductOps linear;
    private final ScanOps scan;
    private final LowRankDeltas lowRank;

    /**
     * A decode step (one mixer row per sequence, not training) of at most this many rows computes Δ in one fused
     * launch ({@link LayerOps#dtSoftplus}) in an fp32 model, for the rows without low-rank deltas on dt_proj: there
     * the product, its bias copy and softplus as three launches cost more than their arithmetic. Longer calls,
     * training (whose backward recomputes Δ the same way), rows with dt_proj deltas and the other precisions (whose
     * products round their inputs) go through the product (the summation order differs, within float32 rounding).
     * The choice depends on the call's shape and each row's own adapters only, so a row of a mixed-adapter batch
     * computes its Δ as it does alone.
     */
    static final int FUSED_DELTA_ROWS = 64;

    private final boolean fp32;

    /**
     * The most rows a decode step runs through the fused few-row kernels (at most {@code DecodeKernels.MAX_ROWS}),
     * 8 by default: on the H200 the replayed decoder step of the 130M shape took 0.596 ms fused against 0.88 ms at
     * batch 1, but 1.72 against 1.52 ms at batch 16 (the 16-row kernels hold one block per SM); in between it was
     * not measured, and 8 is where the two lines cross. The system property {@value #FUSED_STEP_ROWS_PROPERTY} sets
     * it (0: never), a benchmark's knob.
     */
    static final int FUSED_STEP_ROWS = Math.min(DecodeKernels.MAX_ROWS,
            Integer.getInteger(MambaBlock.FUSED_STEP_ROWS_PROPERTY, 8));

    static final String FUSED_STEP_ROWS_PROPERTY = "ssmpeft.cuda.fusedStepRows";

    /** @param fp32 whether the model's products are true fp32 (then a few rows' Δ may be fused, see above) */
    MambaBlock(MambaConfig config, Device device, ProductOps linear, LowRankDeltas lowRank, boolean fp32) {
        this.fp32 = fp32;
        this.config = config;
        this.memory = device.memory();
        this.k = device.layers();
        this.linear = linear;
        this.scan = device.scan();
        this.lowRank = lowRank;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    /**
     * One block: h (M, d) <- h + out_proj(scan(...)), advancing the layer's conv, SSM and extra state; each part of
     * the batch plan with its own hooks on its own rows ({@link BatchPlan}: one part is the plain call).
     */
    void forward(DeviceMemory.Arena call, int layer, long hidden, LayerTape t, CudaState state, BatchPlan plan) {
        BlockWeights w = plan.shared().block(layer);
        Rows rows = t.rows;
        int batch = rows.batch();
        int len = rows.len();
        int m = rows.m();
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int xw = r + 2 * n;
        int prefix = rows.prefix();
        int lx = rows.lx();
        int mx = rows.mx();
        if (fusedStep(t, plan, layer)) {
            stepFused(call, layer, hidden, t, state, plan);
            return;
        }

        // u = RMSNorm(h): (M, d);  [x | z] = u·W_inᵀ + b + LoRA: (M, d) -> (M, 2D)
        k.rmsNormForward(t.normed, hidden, w.norm(), m, dm, config.layerNormEpsilon());
        linear.forward(t.xz, 2 * di, t.normed, dm, w.inProj(), w.inProjBias(), m, dm, 2 * di);
        lowRank.forward(call, plan, p -> p.deltas(layer, "in_proj"), t.xz, 2 * di, t.normed, dm, len);
        if (prefix > 0) {
            // [P; x | 0; z]: (Mx, 2D), the virtual tokens' gate is 0; row b's n_b prefix rows end where its tokens
            // start, at virtual row max_b n_b (a shorter prefix leaves the first rows zero, see delta below)
            k.fill(t.xzExt, (long) mx * 2 * di, 0f);
            for (BatchPlan.Part part : plan.parts()) {
                HookPlan.Layer hooks = part.plan().layer(layer);
                int nb = hooks.prefixLength();
                for (int b = part.first(); nb > 0 && b < part.end(); b++) {
                    long row = t.xzExt + 4L * ((long) b * lx + prefix - nb) * 2 * di;
                    k.copy2d(row, 2 * di, part.plan().value(hooks.prefix().orElseThrow()), di, nb, di);
                }
            }
            k.copy2d(t.xzExt + 4L * prefix * 2 * di, lx * 2 * di, t.xz, len * 2 * di, batch, len * 2 * di);
        }
        // x = silu(conv1d(x) + bias): (Mx, D), continuing the conv state (B, D, K); training starts from a zero state
        // and keeps none (0), as the backward's recomputation does
        convSilu(t, w, t.training ? 0 : state.conv(layer));
        // [dt_low | B | C] = x_proj(x): (Mx, D) -> (Mx, R + 2N)
        linear.forward(t.xdbl, xw, t.xc, di, w.xProj(), 0, mx, di, xw);
        lowRank.forward(call, plan, p -> p.deltas(layer, "x_proj"), t.xdbl, xw, t.xc, di, lx);
        // Δ = softplus(dt_low·W_dtᵀ + b + LoRA): (Mx, R) -> (Mx, D)
        delta(call, t, w, plan, layer);
        if (prefix > 0) {
            // Δ = 0 on the virtual rows a shorter prefix leaves unused: the scan keeps the state there, bit for bit
            for (BatchPlan.Part part : plan.parts()) {
                int unused = prefix - part.plan().layer(layer).prefixLength();
                for (int b = part.first(); unused > 0 && b < part.end(); b++) {
                    k.fill(t.dt + 4L * b * lx * di, (long) unused * di, 0f);
                }
            }
        }
        stateHooks(t, plan, layer, state);
        // y = (C·(h + h') + C'·h_ext + D·x + y') · silu(z): (Mx, D), advancing the SSM and extra states
        ScanOperands o = operands(t, w, plan, layer);
        if (lx == 1 && !t.training) {
            scan.step(t.scan, o, state.ssm(layer), state.extra(layer), t.y);
        } else {
            scan.forward(t.scan, o, state.ssm(layer), state.extra(layer), t.checkpoints, t.y);
        }
        // h += out_proj(y_real): (M, D) -> (M, d)
        if (prefix > 0) {
            realRows(t.yReal, t.y, rows, di);
        }
        outProj(call, layer, hidden, t, plan, false);
    }

    // each part's state hooks on its rows before the scan: h_{-1} = h_state + Σh0 on a fresh state, and a state
    // extension's [B' | C'] = x·[E_B; E_C]ᵀ: (Mx, D) -> (Mx, 2n')
    private void stateHooks(LayerTape t, BatchPlan plan, int layer, CudaState state) {
        int di = config.dInner();
        int n = config.dState();
        int lx = t.rows.lx();
        for (BatchPlan.Part part : plan.parts()) {
            HookPlan.Layer hooks = part.plan().layer(layer);
            hooks.initialState().ifPresent(h0 -> k.addBroadcast(state.ssm(layer) + 4L * part.first() * di * n,
                    part.plan().value(h0), part.rows(), di * n));
            long r0 = (long) part.first() * lx;
            hooks.extension().ifPresent(e -> linear.forward(t.extBc + 4L * r0 * 2 * t.extWidth, 2 * t.extWidth,
                    t.xc + 4L * r0 * di, di, part.plan().value(e.maps()), 0, part.rows() * lx, di, 2 * t.extWidth));
        }
    }

    // h += out_proj(y_real) + b + Σ LoRA: (M, D) -> (M, d); few: a fused decode step's (DecodeKernels' product)
    private void outProj(DeviceMemory.Arena call, int layer, long hidden, LayerTape t, BatchPlan plan, boolean few) {
        BlockWeights w = plan.shared().block(layer);
        int m = t.rows.m();
        int len = t.rows.len();
        int dm = config.dModel();
        int di = config.dInner();
        if (w.outProjBias() == 0 && !plan.anyDeltas(layer, "out_proj")) {
            // h += y_real·W_outᵀ straight into the residual stream (beta = 1): the same fl(h + fl(Σ)) as below
            if (few) {
                k.productAdd(hidden, dm, t.yReal, di, w.outProj(), m, di, dm);
            } else {
                linear.forwardAdd(hidden, dm, t.yReal, di, w.outProj(), 1f, m, di, dm);
            }
        } else {
            linear.forward(t.out, dm, t.yReal, di, w.outProj(), w.outProjBias(), m, di, dm);
            lowRank.forward(call, plan, p -> p.deltas(layer, "out_proj"), t.out, dm, t.yReal, di, len);
            k.addScaled(hidden, t.out, 1f, (long) m * dm);
        }
    }

    /**
     * Whether this layer's call is a decode step the few-row kernels take ({@link #stepFused}): fp32 products (the
     * others round their inputs), one position per row outside training, no prefix, a tape with the x_proj partials
     * (at most {@link #FUSED_STEP_ROWS} rows of widths {@code DecodeKernels} serves), a dt_rank the step's lanes
     * hold, and no low-rank deltas on x_proj or dt_proj in any row (their sums would have to leave the fused launch). The choice depends on the call's shape and on
     * the batch's adapters for those two modules only.
     */
    private boolean fusedStep(LayerTape t, BatchPlan plan, int layer) {
        Rows r = t.rows;
        return fp32 && !t.training && r.lx() == 1 && r.prefix() == 0 && t.xProjPart != 0
                && config.dtRank() <= SelectiveScanKernels.maxStepDeltaRank(
                        ScanLayout.forward(t.scan.totalStates()).single())
                && !plan.anyDeltas(layer, "x_proj") && !plan.anyDeltas(layer, "dt_proj");
    }

    /**
     * A decode step of the block in four launches ({@code DecodeKernels}, formulas in {@code kernels/decode.cu}) where
     * the general path takes eight; the same quantities as {@link #forward}'s:
     * <pre>
     *   [x | z] = RMSNorm(h)·W_inᵀ + b  (+ in_proj deltas on u)     normProduct, u kept for the deltas
     *   x = silu(conv step(x)), [dt_low | B | C] = x·W_xᵀ            convXProj
     *   [B' | C'] of a state extension, h0 on a fresh state          as forward's
     *   Δ = softplus(dt_proj(dt_low)), the scan step                 stepDelta
     *   h += y·W_outᵀ                                                productAdd (with a bias or deltas: forward's)
     * </pre>
     */
    private void stepFused(DeviceMemory.Arena call, int layer, long hidden, LayerTape t, CudaState state,
                           BatchPlan plan) {
        BlockWeights w = plan.shared().block(layer);
        int m = t.rows.m();
        int dm = config.dModel();
        int di = config.dInner();
        int r = config.dtRank();
        int xw = r + 2 * config.dState();
        k.normProduct(t.xz, 2 * di, t.normed, hidden, dm, w.norm(), config.layerNormEpsilon(), w.inProj(),
                w.inProjBias(), m, dm, 2 * di);
        lowRank.forward(call, plan, p -> p.deltas(layer, "in_proj"), t.xz, 2 * di, t.normed, dm, 1);
        k.convXProj(t.xc, t.xProjPart, t.xdbl, t.xProjCounter, t.xz, 2 * di, w.convWeight(), w.convBias(),
                state.conv(layer), w.xProj(), m, di, config.convKernel(), xw);
        stateHooks(t, plan, layer, state);
        scan.stepDelta(t.scan, operands(t, w, plan, layer), w.dtProj(), w.dtProjBias(), r, state.ssm(layer),
                state.extra(layer), t.y);
        outProj(call, layer, hidden, t, plan, true);
    }

    // x = silu(conv1d(x) + b): (Mx, 2D) x half -> (Mx, D), from conv state (B, D, K) or 0 (zero, none kept)
    private void convSilu(LayerTape t, BlockWeights w, long convState) {
        k.convSiluForward(t.xc, t.convPre, t.xzExt, 2 * config.dInner(), w.convWeight(), w.convBias(), convState,
                t.rows.batch(), t.rows.lx(), config.dInner(), config.convKernel());
    }

    // Δ = softplus(dt_low·W_dtᵀ + b + Σ LoRA): (Mx, R) at xdbl's first columns -> (Mx, D)
    private void delta(DeviceMemory.Arena call, LayerTape t, BlockWeights w, BatchPlan plan, int layer) {
        int di = config.dInner();
        int xw = config.dtRank() + 2 * config.dState();
        int lx = t.rows.lx();
        int mx = t.rows.mx();
        if (fp32 && !t.training && lx == 1 && mx <= FUSED_DELTA_ROWS) {
            // a decode step: fused for every row (unless every row has dt_proj deltas), then the rows with dt_proj
            // deltas again through the product
            if (plan.parts().stream().anyMatch(p -> p.plan().deltas(layer, "dt_proj").isEmpty())) {
                k.dtSoftplus(t.dt, t.xdbl, xw, w.dtProj(), w.dtProjBias(), mx, config.dtRank(), di);
            }
            for (BatchPlan.Part p : plan.parts()) {
                List<DeviceDelta> deltas = p.plan().deltas(layer, "dt_proj");
                if (!deltas.isEmpty()) {
                    long dt = t.dt + 4L * p.first() * di;
                    long x = t.xdbl + 4L * p.first() * xw;
                    linear.forward(dt, di, x, xw, w.dtProj(), w.dtProjBias(), p.rows(), config.dtRank(), di);
                    lowRank.forward(call, deltas, dt, di, x, xw, p.rows());
                    k.softplusInPlace(dt, (long) p.rows() * di);
                }
            }
            return;
        }
        linear.forward(t.dt, di, t.xdbl, xw, w.dtProj(), w.dtProjBias(), mx, config.dtRank(), di);
        lowRank.forward(call, plan, p -> p.deltas(layer, "dt_proj"), t.dt, di, t.xdbl, xw, lx);
        k.softplusInPlace(t.dt, (long) mx * di);
    }

    private ScanOperands operands(LayerTape t, BlockWeights w, BatchPlan plan, int layer) {
        int di = config.dInner();
        int r = config.dtRank();
        int xw = r + 2 * config.dState();
        long ext = t.extWidth == 0 ? 0 : t.extBc;
        return new ScanOperands(t.xc, t.dt, w.negA(), t.xdbl, xw, r, w.skip(), t.xzExt, 2 * di, di,
                plan.stateOffset(layer), plan.outputOffset(layer), ext, 2 * t.extWidth, plan.extNegA(layer),
                plan.hookRows(layer));
    }

    // mixer rows (Mx, w) -> real rows (M, w): the virtual positions of a prefix dropped
    private void realRows(long real, long mixer, Rows r, int w) {
        for (int b = 0; b < r.batch(); b++) {
            k.copy2d(real + 4L * b * r.len() * w, w, mixer + 4L * ((long) b * r.lx() + r.prefix()) * w, w, r.len(),
                    w);
        }
    }

    // real rows (M, w) -> mixer rows (Mx, w), zero at the virtual positions (their outputs were dropped)
    private void mixerRows(long mixer, long real, Rows r, int w) {
        k.fill(mixer, (long) r.mx() * w, 0f);
        for (int b = 0; b < r.batch(); b++) {
            k.copy2d(mixer + 4L * ((long) b * r.lx() + r.prefix()) * w, w, real + 4L * b * r.len() * w, w, r.len(),
                    w);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    /**
     * dHidden: (M, d) the gradient of the block's output, updated in place to that of its input when
     * {@code needInput} (else left as it is: nothing below reads it); weight, bias and hook gradients into g.
     */
    void backward(DeviceMemory.Arena call, int layer, long dHidden, LayerTape t, BatchPlan rowsPlan,
                  DeviceGradients g, boolean needInput) {
        DevicePlan plan = rowsPlan.single(); // training: one adapter stack
        BlockWeights w = plan.block(layer);
        HookPlan.Layer hooks = plan.layer(layer);
        Rows rows = t.rows;
        int batch = rows.batch();
        int m = rows.m();
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int xw = r + 2 * n;
        int ne = t.extWidth;
        int prefix = rows.prefix();
        int mx = rows.mx();

        // what the forward did not keep (LayerTape), recomputed into the call's scratch: x = silu(conv(x)) from the
        // zero state the training forward started from, and Δ; the same kernels on the same inputs, so the same values
        convSilu(t, w, 0);
        delta(call, t, w, rowsPlan, layer);

        // out = y_real·W_outᵀ + b + LoRA: dHidden (M, d) -> dy_real (M, D), and the weight, bias and LoRA gradients
        long dyReal = floats(call, (long) m * di);
        linear.backwardInput(dyReal, di, dHidden, dm, w.outProj(), 1f, m, di, dm, false);
        lowRank.backward(call, plan.deltas(layer, "out_proj"), dHidden, dm, t.yReal, di, dyReal, di, m, g);
        weightGrad(g, layer, "mixer.out_proj.weight", dHidden, dm, t.yReal, di, m, di, dm);
        biasGrad(g, layer, "mixer.out_proj.bias", dHidden, dm, m, dm);
        long dy = dyReal;
        if (prefix > 0) {
            dy = floats(call, (long) mx * di);
            mixerRows(dy, dyReal, rows, di);
        }

        // the scan: dx, dΔ, dz (into dxzExt's z half), dB, dC (into dxdbl at R), dB', dC' assigned; dA, dA', dD,
        // dh', dy' accumulated; dh0 per batch row
        long dxc = floats(call, (long) mx * di);
        long ddt = floats(call, (long) mx * di);
        long dxdbl = floats(call, (long) mx * xw);
        long dxzExt = floats(call, (long) mx * 2 * di);
        long dExt = ne == 0 ? 0 : floats(call, (long) mx * 2 * ne);
        String aLogName = LanguageModelWeights.layerName(layer, "mixer.A_log");
        long dNegA = g.base(aLogName) == 0 ? 0 : zeros(call, (long) di * n);
        long dExtNegA = ne == 0 ? 0 : zeros(call, (long) di * ne);
        long dH0 = hooks.initialState().isEmpty() ? 0 : floats(call, (long) batch * di * n);
        long dHOffset = hooks.stateOffset().map(g::term).orElse(0L);
        long dYOffset = hooks.outputOffset().map(g::term).orElse(0L);
        long dSkip = g.base(LanguageModelWeights.layerName(layer, "mixer.D"));
        var sg = new SelectiveScanKernels.Gradients(dxc, ddt, dxzExt, dxdbl, dExt, dNegA, dExtNegA, dSkip, dHOffset,
                dYOffset, dH0, 0);
        long work = floats(call, scan.workFloats(t.scan));
        scan.backward(t.scan, operands(t, w, rowsPlan, layer), t.checkpoints, dy, sg, work);
        if (dNegA != 0) {
            // dA_log += dA ⊙ A  (A = -exp(A_log): dA/dA_log = A)
            k.mulAdd(g.base(aLogName), dNegA, w.negA(), (long) di * n);
        }
        hooks.initialState().ifPresent(h0 -> k.sumBatches(g.term(h0), dH0, batch, (long) di * n, 1, di * n, di * n,
                true));
        hooks.extension().ifPresent(e -> {
            // [B' | C'] = x·[E_B; E_C]ᵀ: d[E_B; E_C] += [dB' | dC']ᵀ·x, dx += [dB' | dC']·[E_B; E_C];
            // da' = dA' ⊙ A' (A' = -exp(a'))
            linear.backwardWeight(g.term(e.maps()), dExt, 2 * ne, t.xc, di, 1f, mx, di, 2 * ne);
            linear.backwardInput(dxc, di, dExt, 2 * ne, plan.value(e.maps()), 1f, mx, di, 2 * ne, true);
            k.mulAdd(g.term(e.logDecay()), dExtNegA, plan.extNegA(layer), (long) di * ne);
        });

        // Δ = softplus(pre), pre = dt_low·W_dtᵀ + b + LoRA: (Mx, R) -> (Mx, D)
        k.softplusBackwardInPlace(ddt, t.dt, (long) mx * di);
        linear.backwardInput(dxdbl, xw, ddt, di, w.dtProj(), 1f, mx, r, di, false);
        lowRank.backward(call, plan.deltas(layer, "dt_proj"), ddt, di, t.xdbl, xw, dxdbl, xw, mx, g);
        weightGrad(g, layer, "mixer.dt_proj.weight", ddt, di, t.xdbl, xw, mx, r, di);
        biasGrad(g, layer, "mixer.dt_proj.bias", ddt, di, mx, di);

        // [dt_low | B | C] = x·W_xᵀ + LoRA: (Mx, D) -> (Mx, R + 2N)
        linear.backwardInput(dxc, di, dxdbl, xw, w.xProj(), 1f, mx, di, xw, true);
        lowRank.backward(call, plan.deltas(layer, "x_proj"), dxdbl, xw, t.xc, di, dxc, di, mx, g);
        weightGrad(g, layer, "mixer.x_proj.weight", dxdbl, xw, t.xc, di, mx, di, xw);

        // x = silu(conv(x) + b): into the x half of dxzExt (the z half came from the scan)
        k.convSiluBackward(dxzExt, 2 * di, g.base(LanguageModelWeights.layerName(layer, "mixer.conv1d.weight")),
                g.base(LanguageModelWeights.layerName(layer, "mixer.conv1d.bias")), dxc, t.convPre, t.xzExt, 2 * di,
                w.convWeight(), batch, rows.lx(), di, config.convKernel());
        long dxz = dxzExt;
        if (prefix > 0) {
            // dP (n, D) += Σ_b the x half of the virtual rows (the prefix is shared by the batch rows)
            Term p = hooks.prefix().orElseThrow();
            k.sumBatches(g.term(p), dxzExt, batch, (long) rows.lx() * 2 * di, prefix, di, 2 * di, true);
            dxz = floats(call, (long) m * 2 * di);
            realRows(dxz, dxzExt, rows, 2 * di);
        }

        // [x | z] = RMSNorm(h)·W_inᵀ + b + LoRA: (M, d) -> (M, 2D); the residual's own part is dHidden itself
        long dNormWeight = g.base(LanguageModelWeights.layerName(layer, "norm.weight"));
        if (g.base(LanguageModelWeights.layerName(layer, "mixer.in_proj.weight")) != 0
                || !plan.deltas(layer, "in_proj").isEmpty()) {
            // u = RMSNorm(h), recomputed for the products' weight gradients
            k.rmsNormForward(t.normed, t.hiddenIn, w.norm(), m, dm, config.layerNormEpsilon());
        }
        long dNormed = 0;
        if (needInput || dNormWeight != 0) {
            dNormed = floats(call, (long) m * dm);
            linear.backwardInput(dNormed, dm, dxz, 2 * di, w.inProj(), 1f, m, dm, 2 * di, false);
        }
        lowRank.backward(call, plan.deltas(layer, "in_proj"), dxz, 2 * di, t.normed, dm, dNormed, dm, m, g);
        weightGrad(g, layer, "mixer.in_proj.weight", dxz, 2 * di, t.normed, dm, m, dm, 2 * di);
        biasGrad(g, layer, "mixer.in_proj.bias", dxz, 2 * di, m, 2 * di);
        if (dNormed != 0) {
            k.rmsNormBackward(needInput ? dHidden : 0, dNormWeight, dNormed, t.hiddenIn, w.norm(), m, dm,
                    config.layerNormEpsilon(), true);
        }
    }

    // dW (out, in) += dyᵀ·x for layer's trainable weight {@code suffix} (skipped when frozen)
    private void weightGrad(DeviceGradients g, int layer, String suffix, long dy, int lddy, long x, int ldx, int m,
                            int in, int out) {
        long dw = g.base(LanguageModelWeights.layerName(layer, suffix));
        if (dw != 0) {
            linear.backwardWeight(dw, dy, lddy, x, ldx, 1f, m, in, out);
        }
    }

    // db (out) += Σ_rows dy for layer's trainable bias {@code suffix}
    private void biasGrad(DeviceGradients g, int layer, String suffix, long dy, int lddy, int m, int out) {
        long db = g.base(LanguageModelWeights.layerName(layer, suffix));
        if (db != 0) {
            linear.backwardBias(db, dy, lddy, m, out);
        }
    }

    private static long floats(DeviceMemory.Arena call, long n) {
        return call.floats(n);
    }

    private long zeros(DeviceMemory.Arena call, long n) {
        long at = floats(call, n);
        memory.zero(at, n);
        return at;
    }
}
