package org.ssmpeft.api.hooks;

import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * State-offset hook (State-offset Tuning, variant h; the reference code's {@code SILU_Z_C} bias): at every step the
 * state read-out sees {@code h_t + h'} while the recurrence keeps {@code h_t}:
 * {@code y_t[d] += silu(z_t[d]) · Σ_n C_t[n] h'[d, n]}. {@code h'} has the layer's state shape, (d_inner, N) for
 * Mamba-1 and (H, P, N) for Mamba-2 (there it is added before the gated RMSNorm). It does not decay.
 */
public non-sealed interface StateOffsetHook extends Hook {

    /** h' for {@code layer}, or empty when the layer is not adapted. */
    Optional<Tensor> stateOffset(int layer);
}
