package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * The device plans of one call's batch, whose rows may each act under their own adapter stack (a mixed-adapter
 * batch, {@link RowPlans}): one {@link DevicePlan} per distinct stack and the parts of rows it acts on. A plain call
 * is one part over every row ({@link #single}), so the model computes both the same way (the cpu's one pass): the
 * base products, norms, conv and scan over all rows at once, each part's own hooks on its own rows:
 * <pre>
 *   prompt                 the embedding of the part's rows with its prompt            one launch per part
 *   low-rank deltas        y[part rows] += s·(x[part rows]·Aᵀ)·Bᵀ on every projection    per part that has them
 *   prefix                 n_b virtual rows ending where the tokens start, in a block of max_b n_b (see below)
 *   initial state          h[part rows] += h0                                           per part that has one
 *   extension read-in      [B' | C'][part rows] = x[part rows]·[E_B; E_C]ᵀ              per part
 *   h', y', A'             (B, D, N), (B, D), (B, D, n') laid out per row here, zeros for a row without one,
 *                          read by the one scan launch at each row's place (ScanOperands.hookRows)
 * </pre>
 * What every row shares (the prompt length, the parameter deltas, so the base weights, and the extension widths)
 * {@link RowPlans} has checked. A row with a shorter prefix than the block's leaves the first max n_b − n_b virtual
 * rows unused: their conv input is zero (as the fresh conv state it replaces) and their Δ is set to zero, so the
 * scan leaves the state exactly as it was there (e^{0·A} = 1, 0·B·u = 0): the row's values are those of the row alone.
 */
final class BatchPlan {

    /** Rows [first, first + rows) of the batch, under {@code plan}. */
    record Part(int first, int rows, DevicePlan plan) {

        int end() {
            return first + rows;
        }
    }

    private final List<Part> parts;
    private final int batch;
    // per layer, of a mixed batch: h' (B, D, N), y' (B, D), A' (B, D, n') per row, or 0 (no row has it)
    private final long[] hOffsetRows;
    private final long[] yOffsetRows;
    private final long[] extNegARows;

    private BatchPlan(List<Part> parts, int batch, int layers) {
        this.parts = List.copyOf(parts);
        this.batch = batch;
        this.hOffsetRows = new long[layers];
        this.yOffsetRows = new long[layers];
        this.extNegARows = new long[layers];
    }

    /** One plan over every row of a batch of {@code batch} sequences. */
    static BatchPlan single(DevicePlan plan, int batch, int layers) {
        return new BatchPlan(List.of(new Part(0, batch, plan)), batch, layers);
    }

    /**
     * The device plans of {@code rows}, each distinct plan uploaded once ({@code upload}), and for a mixed batch the
     * per-row scan hooks built on the device, into {@code call}.
     */
    static BatchPlan of(RowPlans rows, Function<HookPlan, DevicePlan> upload, MambaWeights weights, Device device,
                        DeviceMemory.Arena call) {
        MambaConfig c = weights.config();
        Map<HookPlan, DevicePlan> uploaded = new IdentityHashMap<>();
        List<Part> parts = new ArrayList<>();
        for (RowPlans.Segment s : rows.segments()) {
            parts.add(new Part(s.first(), s.rows(), uploaded.computeIfAbsent(s.plan(), upload)));
        }
        var plan = new BatchPlan(parts, rows.batch(), c.layers());
        if (plan.mixed()) {
            int di = c.dInner();
            for (int l = 0; l < c.layers(); l++) {
                int layer = l;
                plan.hOffsetRows[l] = plan.perRow(device, call, (long) di * c.dState(),
                        p -> p.value(p.layer(layer).stateOffset()));
                plan.yOffsetRows[l] = plan.perRow(device, call, di, p -> p.value(p.layer(layer).outputOffset()));
                plan.extNegARows[l] = plan.perRow(device, call, (long) di * plan.shared().layer(l).extensionWidth(),
                        p -> p.extNegA(layer));
            }
        }
        return plan;
    }

    // (B, size): row b the value of its part's plan at {@code of} (0 where it has none: zeros), or 0 if no part has one
    private long perRow(Device device, DeviceMemory.Arena call, long size, Function<DevicePlan, Long> of) {
        if (size == 0 || parts.stream().allMatch(p -> of.apply(p.plan()) == 0)) {
            return 0;
        }
        long rows = call.floats(batch * size);
        device.layers().fill(rows, batch * size, 0f);
        for (Part p : parts) {
            long value = of.apply(p.plan());
            if (value != 0) {
                device.layers().addBroadcast(rows + 4L * p.first() * size, value, p.rows(), Math.toIntExact(size));
            }
        }
        return rows;
    }

    /** The parts, in row order, covering every row. */
    List<Part> parts() {
        return parts;
    }

    /** Whether the rows act under more than one plan. */
    boolean mixed() {
        return parts.size() > 1;
    }

    /** The first row's plan: what every row shares (the base weights, prompt length, extension widths). */
    DevicePlan shared() {
        return parts.get(0).plan();
    }

    /** The one plan of a batch that is not mixed (training takes one adapter stack). */
    DevicePlan single() {
        if (mixed()) {
            throw new IllegalStateException("a mixed-adapter batch has " + parts.size() + " parts, not one plan");
        }
        return shared();
    }

    int batch() {
        return batch;
    }

    int promptLength() {
        return shared().promptLength();
    }

    /** max over the rows of n_b, layer l's prefix rows: the virtual rows of its mixer block. */
    int prefixLength(int l) {
        int n = 0;
        for (Part p : parts) {
            n = Math.max(n, p.plan().layer(l).prefixLength());
        }
        return n;
    }

    /** Whether any row has low-rank deltas on layer l's {@code module}. */
    boolean anyDeltas(int l, String module) {
        return parts.stream().anyMatch(p -> !p.plan().deltas(l, module).isEmpty());
    }

    /** Whether the scan reads layer l's h', y' and A' per row ({@link #stateOffset} etc. are then (B, ...)). */
    boolean hookRows(int l) {
        return hOffsetRows[l] != 0 || yOffsetRows[l] != 0 || extNegARows[l] != 0;
    }

    /** Layer l's h': (B, D, N) per row where {@link #hookRows}, else the shared (D, N); 0 for none. */
    long stateOffset(int l) {
        return hookRows(l) ? hOffsetRows[l] : shared().value(shared().layer(l).stateOffset());
    }

    /** Layer l's y': (B, D) per row where {@link #hookRows}, else the shared (D); 0 for none. */
    long outputOffset(int l) {
        return hookRows(l) ? yOffsetRows[l] : shared().value(shared().layer(l).outputOffset());
    }

    /** Layer l's A' = -exp(a'): (B, D, n') per row where {@link #hookRows}, else the shared (D, n'); 0 for none. */
    long extNegA(int l) {
        return hookRows(l) ? extNegARows[l] : shared().extNegA(l);
    }
}
