package org.ssmpeft.api.hooks;

import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Input hook: {@code n} trainable virtual tokens prepended to the sequence.
 *
 * <ul>
 *   <li>{@link Placement#EMBEDDING} (prompt tuning): {@code P} of shape (n, d_model) is prepended to the token
 *       embeddings before layer 0: {@code e' = [P; E(x)]}. Logits are read only at the real tokens.</li>
 *   <li>{@link Placement#LAYER} (prefix tuning on SSMs): in each selected layer {@code P_l} of shape
 *       (n, {@link org.ssmpeft.api.shape.ModelShape#mixerInputWidth()}) is prepended to the in_proj output without
 *       the gate z (Mamba-1: x, width d_inner), before the conv. The gate is 0 at those positions and their outputs
 *       are dropped, so the virtual tokens act only through the conv and SSM states they leave behind.</li>
 * </ul>
 */
public non-sealed interface InputHook extends Hook {

    enum Placement { EMBEDDING, LAYER }

    Placement placement();

    /** Number of virtual tokens n. */
    int virtualTokenCount();

    /**
     * The virtual tokens for {@code layer} (ignored for {@link Placement#EMBEDDING}, pass -1), or empty when the
     * layer is not adapted.
     */
    Optional<Tensor> virtualTokens(int layer);
}
