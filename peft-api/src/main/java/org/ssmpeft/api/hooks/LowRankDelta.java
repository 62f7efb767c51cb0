package org.ssmpeft.api.hooks;

import java.util.Objects;
import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * A low-rank update of a projection's rows: {@code W[rows] x + scaling · B (A x)}, i.e.
 * {@code ΔW = scaling · B A} added to rows {@code rowOffset .. rowOffset + B.rows - 1} of the weight.
 *
 * <p>With a {@code magnitude} m (DoRA, Liu et al. 2024, as Hugging Face PEFT's {@code use_dora} computes it) the
 * adapted rows are re-normalised instead: {@code W'[rows] = m ⊙ (W + s·B·A) / ||W + s·B·A||_c}, the norm taken per
 * output row (over the input dimension) and treated as a constant in the backward (PEFT detaches it, DoRA §4.3).
 * Each such delta's contribution to the output is {@code (m/n − 1) ⊙ (W[rows] x) + (m/n) ⊙ s·B(A x)} with
 * {@code n = ||W[rows] + s·B·A||_c} computed from the base weight alone, so several deltas on one weight still add
 * up. A magnitude starts as the base rows' norm {@code ||W[rows]||_c} ({@link
 * org.ssmpeft.api.adapter.Initializer.BaseRowNorm}): an adapter cannot see the base weights, the runtime fills it.
 *
 * @param a         (r, in_features)
 * @param b         (out_features of the block, r)
 * @param scaling   alpha / r (LoRA) or alpha / sqrt(r) (rsLoRA)
 * @param rowOffset first adapted row of the full weight
 * @param magnitude DoRA's m, (out_features of the block), or empty for plain LoRA
 */
public record LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset, Optional<Tensor> magnitude) {

    /** A plain LoRA delta (no magnitude). */
    public LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset) {
        this(a, b, scaling, rowOffset, Optional.empty());
    }

    public LowRankDelta {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        Objects.requireNonNull(magnitude, "magnitude");
        magnitude.ifPresent(m -> {
            if (m.rank() != 1 || m.dim(0) != b.dim(0)) {
                throw new IllegalArgumentException("a DoRA magnitude has one value per adapted row: expected ("
                        + b.dim(0) + "), found " + Tensor.format(m.shape()));
            }
        });
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
