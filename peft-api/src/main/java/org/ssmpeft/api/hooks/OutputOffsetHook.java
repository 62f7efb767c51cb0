package org.ssmpeft.api.hooks;

import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Output-offset hook (State-offset Tuning, variant y; the reference code's {@code SILU_Z} bias):
 * {@code y_t[d] += silu(z_t[d]) · y'[d]}, {@code y'} of shape (d_inner). A constant pre-gate bias on the SSM output.
 */
public non-sealed interface OutputOffsetHook extends Hook {

    /** y' for {@code layer}, or empty when the layer is not adapted. */
    Optional<Tensor> outputOffset(int layer);
}
