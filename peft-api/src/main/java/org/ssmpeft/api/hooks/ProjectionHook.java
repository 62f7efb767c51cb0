package org.ssmpeft.api.hooks;

import java.util.Optional;

/**
 * Projection hook (LoRA and relatives): the projection computes {@code W x + s · B (A x)} on the rows of
 * {@link Projection} it targets. Deltas of several adapters on the same projection add up.
 */
public non-sealed interface ProjectionHook extends Hook {

    /**
     * The delta on {@code target} in {@code layer} (for {@link Projection#HEAD} the layer is ignored, pass -1),
     * or empty when this adapter does not touch it.
     */
    Optional<LowRankDelta> delta(int layer, Projection target);
}
