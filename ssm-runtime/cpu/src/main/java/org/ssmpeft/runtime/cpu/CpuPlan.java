package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;

/**
 * A {@link HookPlan} with what the CPU derives from it once per call: the effective weights
 * {@code θ = θ_base + ΣΔθ} as host arrays, A = -exp(A_log) per layer (recomputed where A_log has a delta), and
 * A' = -exp(a') of each layer's concatenated state extension.
 */
final class CpuPlan {

    final HookPlan hooks;
    final MambaWeights weights;
    final List<float[]> negA;
    final float[][] extNegA; // per layer (D, n'), null where no extension acts

    private CpuPlan(HookPlan hooks, MambaWeights weights, List<float[]> negA, float[][] extNegA) {
        this.hooks = hooks;
        this.weights = weights;
        this.negA = negA;
        this.extNegA = extNegA;
    }

    static CpuPlan of(HookPlan hooks, MambaWeights base, List<float[]> baseNegA) {
        MambaWeights weights = base;
        List<float[]> negA = baseNegA;
        Map<String, Term> deltas = hooks.parameterDeltas();
        if (!deltas.isEmpty()) {
            Map<String, float[]> replaced = effective(hooks, base.parameters());
            weights = base.with((name, array) -> replaced.getOrDefault(name, array));
            var a = new ArrayList<>(baseNegA);
            for (int l = 0; l < a.size(); l++) {
                if (replaced.containsKey(MambaWeights.layerName(l, "mixer.A_log"))) {
                    a.set(l, CpuMamba.negA(weights.layers().get(l).aLog()));
                }
            }
            negA = List.copyOf(a);
        }
        float[][] ext = new float[base.config().layers()][];
        for (int l = 0; l < ext.length; l++) {
            int li = l;
            hooks.layer(l).extension().ifPresent(e -> ext[li] = CpuMamba.negA(e.logDecay().value()));
        }
        return new CpuPlan(hooks, weights, negA, ext);
    }

    /** θ = θ_base + ΣΔθ for every base parameter a parameter hook acts on, by Hugging Face name (any family). */
    static Map<String, float[]> effective(HookPlan hooks, Map<String, org.ssmpeft.api.tensor.Tensor> named) {
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
