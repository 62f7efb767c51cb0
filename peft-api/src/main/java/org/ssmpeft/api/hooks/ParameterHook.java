package org.ssmpeft.api.hooks;

import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Parameter hook (BitFit, full fine-tuning, A/D tuning): a subset of base parameters becomes trainable. The adapter
 * owns a delta per selected base tensor, so {@code θ = θ_base + Δθ} with {@code Δθ = 0} at the start; the base
 * weights are never written and several such adapters add up.
 *
 * <p>Base parameters are named as in Hugging Face checkpoints ({@code backbone.layers.0.mixer.D},
 * {@code backbone.layers.0.mixer.dt_proj.bias}, ...).
 */
public non-sealed interface ParameterHook extends Hook {

    /** The delta for base parameter {@code baseName}, or empty when this adapter does not train it. */
    Optional<Tensor> parameterDelta(String baseName);
}
