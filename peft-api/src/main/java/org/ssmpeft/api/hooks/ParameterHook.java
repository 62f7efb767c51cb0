package org.ssmpeft.api.hooks;

import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Parameter hook (BitFit, partial and full fine-tuning, A/D tuning): a subset of base parameters becomes trainable.
 * The adapter owns a delta per selected base tensor, so {@code θ = θ_base + Δθ} with {@code Δθ = 0} at the start; the
 * base weights are never written and several such adapters add up.
 *
 * <p>Base parameters are named as in Hugging Face checkpoints ({@code backbone.layers.0.mixer.D},
 * {@code backbone.layers.0.mixer.dt_proj.bias}, ...). A delta has the base tensor's stored shape
 * ({@code conv1d.weight} is (D, 1, K)).
 */
public non-sealed interface ParameterHook extends Hook {

    /** The delta for base parameter {@code baseName}, or empty when this adapter does not train it. */
    Optional<Tensor> parameterDelta(String baseName);

    /**
     * Every base parameter name this adapter hands a delta for. A backend refuses, naming it, a name its model does
     * not have (a head delta on a tied model, a conv bias on a model without one), instead of silently training
     * nothing.
     */
    Set<String> parameterDeltaNames();
}
