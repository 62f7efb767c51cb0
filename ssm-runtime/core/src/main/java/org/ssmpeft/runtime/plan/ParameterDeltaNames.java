package org.ssmpeft.runtime.plan;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.ModelSpec;

/**
 * The check made before parameter hooks apply: each base name an acting {@link ParameterHook} declares must be a
 * parameter of the model, so a delta for a tensor the model does not have (a head delta on a tied model, a conv bias
 * on a model without one) fails naming it instead of training nothing.
 */
public final class ParameterDeltaNames {

    private ParameterDeltaNames() {
    }

    /**
     * Fails on the first declared name that is not a parameter of {@code spec}, or that the adapter declares but
     * hands no delta for.
     */
    public static void requireKnown(List<Adapter> acting, ModelSpec spec) {
        Map<String, Tensor> named = spec.parameters();
        for (Adapter a : acting) {
            if (!(a instanceof ParameterHook hook)) {
                continue;
            }
            for (String name : hook.parameterDeltaNames()) {
                if (!named.containsKey(name)) {
                    throw new IllegalArgumentException(HookPlan.who(a) + " hands a parameter delta for '" + name
                            + "', which this model does not have" + why(name, spec) + "; its parameters: "
                            + summary(named));
                }
                if (hook.parameterDelta(name).isEmpty()) {
                    throw new IllegalArgumentException(HookPlan.who(a) + " declares a parameter delta for '" + name
                            + "' but hands none");
                }
            }
        }
    }

    /**
     * The parameter names with layer indices folded: {@code backbone.layers.<0..23>.mixer.D} once, not 24 times.
     */
    public static String summary(Map<String, Tensor> named) {
        var folded = new java.util.LinkedHashMap<String, int[]>();
        for (String n : named.keySet()) {
            var m = java.util.regex.Pattern.compile("^backbone\\.layers\\.(\\d+)\\.(.*)$").matcher(n);
            if (m.matches()) {
                int l = Integer.parseInt(m.group(1));
                folded.merge("backbone.layers.<L>." + m.group(2), new int[] {l, l},
                        (x, y) -> new int[] {Math.min(x[0], y[0]), Math.max(x[1], y[1])});
            } else {
                folded.put(n, null);
            }
        }
        return folded.entrySet().stream().map(e -> e.getValue() == null ? e.getKey()
                : e.getKey().replace("<L>", "<" + e.getValue()[0] + ".." + e.getValue()[1] + ">"))
                .collect(Collectors.joining(", "));
    }

    private static String why(String name, ModelSpec spec) {
        if (name.equals("lm_head.weight") && spec.tiedHead()) {
            return " (its head is tied to backbone.embeddings.weight: a delta of the embedding moves both;"
                    + " for full-ft set tied_head: true)";
        }
        if (name.endsWith(".mixer.conv1d.bias")) {
            return " (use_conv_bias is false: its conv1d has no bias)";
        }
        if (name.endsWith(".mixer.in_proj.bias") || name.endsWith(".mixer.out_proj.bias")) {
            return " (use_bias is false: in_proj and out_proj have no bias)";
        }
        if (name.matches("backbone\\.layers\\.\\d+\\..*")) {
            int layer = Integer.parseInt(name.split("\\.")[2]);
            if (layer >= spec.shape().layers()) {
                return " (it has " + spec.shape().layers() + " layers)";
            }
        }
        return "";
    }
}
