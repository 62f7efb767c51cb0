package org.ssmpeft.runtime.cuda.model;

import java.util.List;
import java.util.function.Function;
import org.ssmpeft.runtime.plan.HookPlan;

/**
 * Low-rank deltas on any projection, forward and backward, on the device (the device twin of the cpu's
 * {@code ModelParts.lowRank} / {@code lowRankBackward}). Per delta, on rows [o, o + out) of the projection's output:
 * <pre>
 *   LoRA   y[:, rows] += s·(x·Aᵀ)·Bᵀ                                  t = x·Aᵀ (M, r), u = t·Bᵀ (M, out)
 *   DoRA   y[:, rows] += (g − 1) ⊙ (x·W[rows]ᵀ) + g ⊙ s·u              g = m / n per row (n detached)
 * </pre>
 * Backward, dy (M, ldy) the gradient of the projection's whole output: dB += s·dyᵀ·t, dt = s·dy·B, dA += dtᵀ·x,
 * dx += dt·A; DoRA first scales dy by g (and x also gets (g − 1) ⊙ dy·W[rows]), and dm = Σ_rows dy ⊙ (x·W[rows]ᵀ +
 * s·u) / n. The intermediates (t, u, x·W[rows]ᵀ) are recomputed in the backward, as on the cpu; they live in the
 * call's arena.
 */
final class LowRankDeltas {

    private final ProductOps linear;
    private final LayerOps kernels;

    LowRankDeltas(ProductOps linear, LayerOps kernels) {
        this.linear = linear;
        this.kernels = kernels;
    }

    // y: (M, ldy) += Σ_deltas on the delta's rows; x: (M, in) row stride ldx
    void forward(DeviceMemory.Arena call, List<DeviceDelta> deltas, long y, int ldy, long x, int ldx, int m) {
        for (DeviceDelta dd : deltas) {
            HookPlan.LowRank d = dd.delta();
            int r = d.rank();
            long yRows = y + 4L * d.rowOffset();
            long t = call.floats((long) m * r);
            linear.forward(t, r, x, ldx, dd.a(), 0, m, d.in(), r);
            if (!dd.dora()) {
                linear.forwardAdd(yRows, ldy, t, r, dd.b(), d.scale(), m, r, d.out());
                continue;
            }
            long u = call.floats((long) m * d.out());
            linear.forward(u, d.out(), t, r, dd.b(), 0, m, r, d.out());
            long base = baseRows(call, dd, x, ldx, m);
            kernels.doraForward(yRows, ldy, base, u, dd.gain(), d.scale(), m, d.out());
        }
    }

    /**
     * Each part's deltas ({@code of} its plan) on its own rows of a batch plan: rows [first·perSeq, end·perSeq) of y
     * (·, ldy) and x (·, ldx), perSeq rows per sequence.
     */
    void forward(DeviceMemory.Arena call, BatchPlan plan, Function<DevicePlan, List<DeviceDelta>> of, long y, int ldy,
                 long x, int ldx, int perSeq) {
        for (BatchPlan.Part p : plan.parts()) {
            List<DeviceDelta> deltas = of.apply(p.plan());
            if (!deltas.isEmpty()) {
                long r0 = (long) p.first() * perSeq;
                forward(call, deltas, y + 4L * r0 * ldy, ldy, x + 4L * r0 * ldx, ldx, p.rows() * perSeq);
            }
        }
    }

    // x·W[rows]ᵀ: (M, out) of a DoRA delta's rows of its weight W (out_full, in)
    private long baseRows(DeviceMemory.Arena call, DeviceDelta dd, long x, int ldx, int m) {
        HookPlan.LowRank d = dd.delta();
        long base = call.floats((long) m * d.out());
        linear.forward(base, d.out(), x, ldx, dd.weight() + 4L * d.rowOffset() * d.in(), 0, m, d.in(), d.out());
        return base;
    }

    // x: (M, in) stride ldx, dy: (M, ldy) -> dA, dB (and DoRA's dm) into g; dx: (M, in) stride lddx += ..., or 0
    void backward(DeviceMemory.Arena call, List<DeviceDelta> deltas, long dy, int ldy, long x, int ldx, long dx, int lddx,
                  int m, DeviceGradients g) {
        for (DeviceDelta dd : deltas) {
            HookPlan.LowRank d = dd.delta();
            int r = d.rank();
            long t = call.floats((long) m * r);
            linear.forward(t, r, x, ldx, dd.a(), 0, m, d.in(), r);
            long dyRows = dy + 4L * d.rowOffset();
            int lddyRows = ldy;
            if (dd.dora()) {
                int out = d.out();
                long u = call.floats((long) m * out);
                linear.forward(u, out, t, r, dd.b(), 0, m, r, out);
                long base = baseRows(call, dd, x, ldx, m);
                long dMagnitude = call.floats(out);
                long scaled = call.floats((long) m * out); // g ⊙ dy on the rows
                long rest = call.floats((long) m * out); // (g − 1) ⊙ dy on the rows
                kernels.doraBackward(dMagnitude, scaled, rest, dyRows, ldy, base, u, dd.gain(), dd.norm(), d.scale(),
                        m, out);
                kernels.addScaled(g.term(d.dora().get().magnitude()), dMagnitude, 1f, out);
                if (dx != 0) {
                    // dx += ((g − 1) ⊙ dy)·W[rows]
                    linear.backwardInput(dx, lddx, rest, out, dd.weight() + 4L * d.rowOffset() * d.in(), 1f, m,
                            d.in(), out, true);
                }
                dyRows = scaled;
                lddyRows = out;
            }
            // dB (out, r) += s·dyᵀ·t;  dt (M, r) = s·dy·B;  dA (r, in) += dtᵀ·x;  dx += dt·A
            linear.backwardWeight(g.term(d.b()), dyRows, lddyRows, t, r, d.scale(), m, r, d.out());
            long dT = call.floats((long) m * r);
            linear.backwardInput(dT, r, dyRows, lddyRows, dd.b(), d.scale(), m, r, d.out(), false);
            linear.backwardWeight(g.term(d.a()), dT, r, x, ldx, 1f, m, d.in(), r);
            if (dx != 0) {
                linear.backwardInput(dx, lddx, dT, r, dd.a(), 1f, m, d.in(), r, true);
            }
        }
    }
}
