package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.plan.HookPlan;

/**
 * A {@link HookPlan} with what the CPU derives from it once per call, for either family: the effective weights
 * {@code θ = θ_base + ΣΔθ} as host arrays, A = -exp(A_log) per layer (recomputed where A_log has a delta; (D, N) for
 * Mamba-1, (H) for Mamba-2), and A' = -exp(a') of each layer's concatenated state extension ((D, n') for Mamba-1,
 * (H, n') for Mamba-2).
 */
final class CpuPlan<W extends LanguageModelWeights<W>> {

    final HookPlan hooks;
    final W weights;
    final List<float[]> negA;
    final float[][] extNegA; // per layer (D, n') or (H, n'), null where no extension acts

    private CpuPlan(HookPlan hooks, W weights, List<float[]> negA, float[][] extNegA) {
        this.hooks = hooks;
        this.weights = weights;
        this.negA = negA;
        this.extNegA = extNegA;
    }

    /** @param aLog a layer's A_log in the given weights */
    static <W extends LanguageModelWeights<W>> CpuPlan<W> of(HookPlan hooks, W base, List<float[]> baseNegA,
                                                            BiFunction<W, Integer, float[]> aLog) {
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
        float[][] ext = new float[base.config().layers()][];
        for (int l = 0; l < ext.length; l++) {
            int li = l;
            hooks.layer(l).extension().ifPresent(e -> ext[li] = negA(e.logDecay().value()));
        }
        return new CpuPlan<>(hooks, weights, negA, ext);
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

    HookPlan.Layer layer(int l) {
        return hooks.layer(l);
    }

    int promptLength() {
        return hooks.promptLength();
    }
}
