package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * A {@link HookPlan} with what the CPU derives from it once per call, for either family: the effective weights
 * {@code θ = θ_base + ΣΔθ} as host arrays, A = -exp(A_log) per layer (recomputed where A_log has a delta; (D, N) for
 * Mamba-1, (H) for Mamba-2), and A' = -exp(a') of each layer's concatenated state extension ((D, n') for Mamba-1,
 * (H, n') for Mamba-2), per segment of rows of a mixed-adapter batch ({@link RowPlans}; one segment for a plain
 * call). The effective weights and A are every row's (a mixed batch's rows share their parameter deltas).
 */
final class CpuPlan<W extends LanguageModelWeights<W>> {

    final RowPlans rows;
    final W weights;
    final List<float[]> negA;
    private final float[][][] extNegA; // per segment, per layer (D, n') or (H, n'), null where no extension acts

    private CpuPlan(RowPlans rows, W weights, List<float[]> negA, float[][][] extNegA) {
        this.rows = rows;
        this.weights = weights;
        this.negA = negA;
        this.extNegA = extNegA;
    }

    /** @param aLog a layer's A_log in the given weights */
    static <W extends LanguageModelWeights<W>> CpuPlan<W> of(RowPlans rows, W base, List<float[]> baseNegA,
                                                            BiFunction<W, Integer, float[]> aLog) {
        HookPlan hooks = rows.shared();
        W weights = base;
        List<float[]> negA = baseNegA;
        if (!hooks.parameterDeltas().isEmpty()) {
            Map<String, float[]> replaced = effective(hooks, base.parameters());
            weights = base.with((name, array) -> replaced.getOrDefault(name, array));
            var a = new ArrayList<>(baseNegA);
            for (int l = 0; l < a.size(); l++) {
                if (replaced.containsKey(LanguageModelWeights.layerName(l, "mixer.A_log"))) {
                    a.set(l, negA(aLog.apply(weights, l)));
                }
            }
            negA = List.copyOf(a);
        }
        List<RowPlans.Segment> segments = rows.segments();
        float[][][] ext = new float[segments.size()][base.config().layers()][];
        for (int s = 0; s < ext.length; s++) {
            for (int l = 0; l < ext[s].length; l++) {
                int si = s;
                int li = l;
                segments.get(s).plan().layer(l).extension().ifPresent(e -> ext[si][li] = negA(e.logDecay().value()));
            }
        }
        return new CpuPlan<>(rows, weights, negA, ext);
    }

    /** A = -exp(A_log), elementwise. */
    static float[] negA(float[] aLog) {
        float[] na = new float[aLog.length];
        for (int i = 0; i < na.length; i++) {
            na[i] = (float) -Math.exp(aLog[i]);
        }
        return na;
    }

    /** θ = θ_base + ΣΔθ for every base parameter a parameter hook acts on, by Hugging Face name (any family). */
    static Map<String, float[]> effective(HookPlan hooks, Map<String, Tensor> named) {
        Map<String, float[]> replaced = new HashMap<>();
        hooks.parameterDeltas().forEach((name, delta) -> {
            float[] sum = named.get(name).data().clone();
            float[] d = delta.value();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += d[i];
            }
            replaced.put(name, sum);
        });
        return replaced;
    }

    /** The plan of every row, for what takes one adapter stack: losses, gradients. */
    HookPlan hooks() {
        return rows.single();
    }

    /** What acts on layer l of every row (single plan only). */
    HookPlan.Layer layer(int l) {
        return rows.single().layer(l);
    }

    /** The segments of rows, each with its plan. */
    List<RowPlans.Segment> segments() {
        return rows.segments();
    }

    /** A' = -exp(a') of segment s's extension on layer l (single plan: segment 0), or null. */
    float[] extNegA(int segment, int layer) {
        return extNegA[segment][layer];
    }

    int promptLength() {
        return rows.promptLength();
    }
}
