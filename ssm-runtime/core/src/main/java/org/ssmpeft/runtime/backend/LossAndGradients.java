package org.ssmpeft.runtime.backend;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;

/**
 * What {@link SsmModel#lossAndGradients} computed.
 *
 * @param loss              mean cross-entropy over the {@code targets} positions with a label (0 when there are none)
 * @param targets           number of positions that entered the mean
 * @param logits            the forward's logits, or null where the caller did not ask for them
 *                          ({@link SsmModel#lossAndGradients(int[][], int[][], org.ssmpeft.api.composition.AdapterSet,
 *                          java.util.Set, boolean)} with {@code keepLogits} false: a training step, which needs only the
 *                          loss and the gradients; a GPU backend then never copies the (B, L, V) logits to the host)
 * @param adapterGradients  per acting adapter (by name), dL/dθ per parameter name, shaped as the parameter
 * @param baseGradients     dL/dθ per requested base parameter (Hugging Face name), shaped as the parameter; the
 *                          embedding's includes a tied head's part
 */
public record LossAndGradients(double loss, int targets, Logits logits,
                               Map<String, Map<String, Tensor>> adapterGradients, Map<String, Tensor> baseGradients) {

    public LossAndGradients {
        var copy = new LinkedHashMap<String, Map<String, Tensor>>();
        adapterGradients.forEach((k, v) -> copy.put(k, java.util.Collections.unmodifiableMap(new LinkedHashMap<>(v))));
        adapterGradients = java.util.Collections.unmodifiableMap(copy);
        baseGradients = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(baseGradients));
    }

    /** The forward's logits; fails where the call was made without them. */
    public Logits logits() {
        if (logits == null) {
            throw new IllegalStateException("these gradients were computed without their logits (keepLogits false):"
                    + " call lossAndGradients(tokens, labels, adapters, trainable) or pass keepLogits true to have them");
        }
        return logits;
    }

    /** Whether the call kept its logits. */
    public boolean hasLogits() {
        return logits != null;
    }

    /** The gradient of one adapter parameter; fails naming what exists. */
    public Tensor adapterGradient(String adapter, String parameter) {
        Map<String, Tensor> g = adapterGradients.get(adapter);
        if (g == null) {
            throw new IllegalArgumentException("no gradients for adapter '" + adapter + "'; acting adapters: "
                    + String.join(", ", adapterGradients.keySet()));
        }
        Tensor t = g.get(parameter);
        if (t == null) {
            throw new IllegalArgumentException("adapter '" + adapter + "' has no parameter '" + parameter + "'; it has: "
                    + String.join(", ", g.keySet()));
        }
        return t;
    }
}
