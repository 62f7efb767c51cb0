package com.example.lowrank;

import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.Range;

/**
 * Config of {@code state-offset-lowrank}.
 *
 * @param rank r, the rank of h' = U·V (U (D, r), V (r, N)); at most N, where it already spans every (D, N) matrix
 */
public record LowRankStateOffsetConfig(
        @Doc("rank r of the offset h' = U·V (U: d_inner x r, V: r x N); at most d_state") @Range(min = 1, max = 4096)
        int rank) {

    public static final LowRankStateOffsetConfig DEFAULT = new LowRankStateOffsetConfig(4);
}
