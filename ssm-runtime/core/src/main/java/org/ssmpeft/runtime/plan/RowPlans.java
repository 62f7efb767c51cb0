package org.ssmpeft.runtime.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.ModelSpec;

/**
 * The hook plans of one batch whose rows may each name their own adapter stack (a mixed-adapter batch): the rows cut
 * into segments, runs of consecutive rows with the same acting adapters, each with its {@link HookPlan}. A plain call
 * is one segment over every row ({@link #of}), so a backend computes both the same way: the base products over all
 * rows, each segment's hooks on its own rows.
 *
 * <p>What all rows must share, checked here once for every backend, with the rows named in the message:
 * <ul>
 *   <li>one adapter set per token row, each sized for the model;</li>
 *   <li>the prompt length P at the embedding (logits are one (B, P+T, V) block, so rows that would need logits of
 *       different lengths are refused, not padded);</li>
 *   <li>the parameter deltas ΣΔθ (they change the base weights that the shared products use);</li>
 *   <li>the state extension widths n' per layer (one recurrent state holds every row's extra state).</li>
 * </ul>
 * Everything else may differ row by row: initial states, state and output offsets, prefixes of any length (a
 * backend places row b's n_b prefix rows right before its tokens, inside a mixer block of max_b n_b + T rows), and
 * low-rank deltas on any projection and the head.
 */
public final class RowPlans {

    /** Rows {@code [first, first + rows)} of the batch, on which {@code plan}'s hooks act. */
    public record Segment(int first, int rows, HookPlan plan) {

        /** One past the segment's last row. */
        public int end() {
            return first + rows;
        }
    }

    private final List<Segment> segments;
    private final int batch;

    private RowPlans(List<Segment> segments, int batch) {
        this.segments = List.copyOf(segments);
        this.batch = batch;
    }

    /** One plan for every row of a batch of {@code batch} sequences: the single-adapter call. */
    public static RowPlans of(HookPlan plan, int batch) {
        return new RowPlans(List.of(new Segment(0, batch, plan)), batch);
    }

    /**
     * Resolves {@code perRow.get(b)} for row b; rows whose acting adapters are the same (the same adapters in the same
     * order) share one resolved plan. Fails, naming the rows, when the list does not match the batch, when a set is
     * sized for another model, or when rows disagree on what they must share (see the class comment).
     *
     * @param fresh whether the call starts the sequences (virtual tokens and initial states act)
     */
    public static RowPlans resolve(ModelSpec spec, List<AdapterSet> perRow, int batch, boolean fresh) {
        Objects.requireNonNull(perRow, "perRow");
        if (perRow.size() != batch) {
            throw new IllegalArgumentException("a mixed-adapter batch needs one adapter set per token row: " + batch
                    + " rows, " + perRow.size() + " adapter sets");
        }
        if (batch == 0) {
            throw new IllegalArgumentException("expected at least one token row, found none");
        }
        for (int b = 0; b < batch; b++) {
            AdapterSet set = perRow.get(b);
            if (set == null) {
                throw new IllegalArgumentException("row " + b + " has no adapter set; pass model.noAdapters() for a"
                        + " row on the plain base model");
            }
            if (!set.shape().equals(spec.shape())) {
                throw new IllegalArgumentException("the adapter set of row " + b + " is sized for "
                        + set.shape().describe() + " but the model is " + spec.shape().describe());
            }
        }
        Map<List<Adapter>, HookPlan> byStack = new HashMap<>();
        List<Segment> segments = new ArrayList<>();
        int first = 0;
        List<Adapter> stack = perRow.get(0).acting();
        for (int b = 1; b <= batch; b++) {
            List<Adapter> next = b < batch ? perRow.get(b).acting() : null;
            if (b == batch || !sameStack(stack, next)) {
                AdapterSet set = perRow.get(first);
                HookPlan plan = byStack.computeIfAbsent(new IdentityList(stack), k -> HookPlan.resolve(spec, set, fresh));
                segments.add(new Segment(first, b - first, plan));
                first = b;
                stack = next;
            }
        }
        var rows = new RowPlans(segments, batch);
        rows.checkShared();
        return rows;
    }

    /** The segments, in row order, covering {@code [0, batch)}. */
    public List<Segment> segments() {
        return segments;
    }

    /** Sequences in the batch. */
    public int batch() {
        return batch;
    }

    /** Whether the rows act under more than one plan. */
    public boolean mixed() {
        return segments.size() > 1;
    }

    /** The plan of every row; fails for a mixed batch (training and losses take one adapter stack). */
    public HookPlan single() {
        if (mixed()) {
            throw new IllegalStateException("a mixed-adapter batch has " + segments.size() + " plans, not one");
        }
        return segments.get(0).plan();
    }

    /** The plan of the first row: what every row shares (prompt length, parameter deltas, extension widths). */
    public HookPlan shared() {
        return segments.get(0).plan();
    }

    /** P, the virtual tokens every row has at the embedding. */
    public int promptLength() {
        return shared().promptLength();
    }

    /** max over rows of n_b, the prefix rows of {@code layer}: the virtual rows of its mixer block. */
    public int prefixLength(int layer) {
        int n = 0;
        for (Segment s : segments) {
            n = Math.max(n, s.plan().layer(layer).prefixLength());
        }
        return n;
    }

    /** The extra state widths n'_l per layer, the same for every row. */
    public int[] extraStateWidths() {
        return shared().extraStateWidths();
    }

    private void checkShared() {
        Segment s0 = segments.get(0);
        for (Segment s : segments.subList(1, segments.size())) {
            HookPlan p = s.plan();
            if (p.promptLength() != s0.plan().promptLength()) {
                throw new IllegalArgumentException("the rows of a mixed-adapter batch need logits of different"
                        + " lengths: " + describePrompts() + "; one call gives one (B, P+T, V) block, so batch"
                        + " together rows whose prompts have the same number of virtual tokens");
            }
            if (!sameDeltas(s0.plan(), p)) {
                throw new IllegalArgumentException(rows(s0) + " and " + rows(s) + " change the base weights"
                        + " differently (parameter deltas " + s0.plan().parameterDeltas().keySet() + " against "
                        + p.parameterDeltas().keySet() + "); the rows of a mixed-adapter batch share the base"
                        + " products, so run rows with other parameter deltas in their own batch");
            }
            if (!Arrays.equals(s0.plan().extraStateWidths(), p.extraStateWidths())) {
                throw new IllegalArgumentException(rows(s0) + " and " + rows(s) + " extend the state by "
                        + Arrays.toString(s0.plan().extraStateWidths()) + " and "
                        + Arrays.toString(p.extraStateWidths()) + " dimensions per layer; one recurrent state holds"
                        + " every row's extra state, so batch together rows with the same state extension widths");
            }
        }
    }

    private String describePrompts() {
        var parts = new ArrayList<String>();
        for (Segment s : segments) {
            parts.add(rows(s) + " P = " + s.plan().promptLength());
        }
        return String.join(", ", parts);
    }

    private static String rows(Segment s) {
        return s.rows() == 1 ? "row " + s.first() : "rows " + s.first() + "-" + (s.end() - 1);
    }

    private static boolean sameDeltas(HookPlan a, HookPlan b) {
        Map<String, Term> da = a.parameterDeltas();
        Map<String, Term> db = b.parameterDeltas();
        if (!da.keySet().equals(db.keySet())) {
            return false;
        }
        for (var e : da.entrySet()) {
            if (!Arrays.equals(e.getValue().value(), db.get(e.getKey()).value())) {
                return false;
            }
        }
        return true;
    }

    // the same adapters (by identity) in the same order
    private static boolean sameStack(List<Adapter> a, List<Adapter> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) != b.get(i)) {
                return false;
            }
        }
        return true;
    }

    /** A list equal to another exactly when it holds the same adapter objects in the same order. */
    private static final class IdentityList extends java.util.AbstractList<Adapter> {
        private final List<Adapter> items;

        IdentityList(List<Adapter> items) {
            this.items = List.copyOf(items);
        }

        @Override
        public Adapter get(int i) {
            return items.get(i);
        }

        @Override
        public int size() {
            return items.size();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof IdentityList other && sameStack(items, other.items);
        }

        @Override
        public int hashCode() {
            int h = 1;
            for (Adapter a : items) {
                h = 31 * h + System.identityHashCode(a);
            }
            return h;
        }
    }
}
