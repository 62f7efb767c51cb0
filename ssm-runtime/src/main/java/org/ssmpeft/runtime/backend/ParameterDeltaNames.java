package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The check every backend makes before it applies parameter hooks: each base name an acting {@link ParameterHook}
 * declares must be a parameter of the model, so a delta for a tensor the model does not have (a head delta on a tied
 * model, a conv bias on a model without one) fails naming it instead of training nothing.
 */
public final class ParameterDeltaNames {

    private ParameterDeltaNames() {
    }

    /**
     * Fails on the first declared name that is not in {@code modelNames} (the model's
     * {@link MambaWeights#parameters()} keys), or that the adapter declares but hands no delta for.
     */
    public static void requireKnown(List<Adapter> acting, Set<String> modelNames, MambaConfig config) {
        for (Adapter a : acting) {
            if (!(a instanceof ParameterHook hook)) {
                continue;
            }
            for (String name : hook.parameterDeltaNames()) {
                if (!modelNames.contains(name)) {
                    throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") hands a"
                            + " parameter delta for '" + name + "', which this model does not have" + why(name, config)
                            + "; its parameters are those of MambaWeights.parameters(), e.g. "
                            + MambaWeights.EMBEDDING + ", " + MambaWeights.layerName(0, "mixer.D"));
                }
                if (hook.parameterDelta(name).isEmpty()) {
                    throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") declares a"
                            + " parameter delta for '" + name + "' but hands none");
                }
            }
        }
    }

    private static String why(String name, MambaConfig config) {
        if (name.equals(MambaWeights.LM_HEAD) && config.tieWordEmbeddings()) {
            return " (its head is tied to " + MambaWeights.EMBEDDING + ": a delta of the embedding moves both;"
                    + " for full-ft set tied_head: true)";
        }
        if (name.endsWith(".mixer.conv1d.bias") && !config.useConvBias()) {
            return " (use_conv_bias is false: its conv1d has no bias)";
        }
        if ((name.endsWith(".mixer.in_proj.bias") || name.endsWith(".mixer.out_proj.bias")) && !config.useBias()) {
            return " (use_bias is false: in_proj and out_proj have no bias)";
        }
        if (name.matches("backbone\\.layers\\.\\d+\\..*")) {
            int layer = Integer.parseInt(name.split("\\.")[2]);
            if (layer >= config.layers()) {
                return " (it has " + config.layers() + " layers)";
            }
        }
        return "";
    }
}
