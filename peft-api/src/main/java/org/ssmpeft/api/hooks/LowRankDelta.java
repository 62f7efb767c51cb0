package org.ssmpeft.api.hooks;

import java.util.Objects;
import org.ssmpeft.api.tensor.Tensor;

/**
 * A low-rank update of a projection's rows: {@code W[rows] x + scaling · B (A x)}, i.e.
 * {@code ΔW = scaling · B A} added to rows {@code rowOffset .. rowOffset + B.rows - 1} of the weight.
 *
 * @param a       (r, in_features)
 * @param b       (out_features of the block, r)
 * @param scaling alpha / r (LoRA) or alpha / sqrt(r) (rsLoRA)
 * @param rowOffset first adapted row of the full weight
 */
public record LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset) {

    public LowRankDelta {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        if (a.rank() != 2 || b.rank() != 2 || a.dim(0) != b.dim(1)) {
            throw new IllegalArgumentException("low-rank delta needs A (r, in) and B (out, r) with the same r; found A"
                    + Tensor.format(a.shape()) + ", B" + Tensor.format(b.shape()));
        }
        if (rowOffset < 0) {
            throw new IllegalArgumentException("row offset must be >= 0, found " + rowOffset);
        }
    }

    public int rank() {
        return a.dim(0);
    }
}
