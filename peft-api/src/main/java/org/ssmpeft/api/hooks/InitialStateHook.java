package org.ssmpeft.api.hooks;

import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Initial-state hook: the scan starts from {@code h_{-1} = h0} instead of zeros,
 * {@code h_t = exp(Δ_t A) ⊙ h_{t-1} + (Δ_t x_t) ⊗ B_t}. Its effect on step t is
 * {@code C_t · (Π_{i≤t} exp(Δ_i A)) h0}: it decays. {@code h0} has the layer's state shape, (d_inner, N) for
 * Mamba-1, (H, P, N) for Mamba-2, and is shared by every sequence of the batch.
 */
public non-sealed interface InitialStateHook extends Hook {

    /** h0 for {@code layer}, or empty when the layer is not adapted. */
    Optional<Tensor> initialState(int layer);
}
