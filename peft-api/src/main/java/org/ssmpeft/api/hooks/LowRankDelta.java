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
 * <p>With {@code pissa} (PiSSA, Meng et al. 2024, as Hugging Face PEFT's {@code init_lora_weights="pissa"} defines
 * it) the delta is taken relative to its principal start: {@code ΔW = s·B·A − s·B0·A0}, where B0 (out, r) and A0
 * (r, in) are the principal factors of the adapted rows, {@code W[rows] ≈ U_r S_r V_rᵀ}, {@code B0 = U_r √S_r / √s},
 * {@code A0 = √S_r V_rᵀ / √s}. PEFT replaces W by the residual {@code W − s·B0·A0} and starts B, A at B0, A0; an
 * adapter cannot rewrite W, so the runtime subtracts the frozen {@code s·B0·A0} instead, computed from the base weight
 * (the same model, the same gradients of A and B). A and B whose elements are NaN ({@link
 * org.ssmpeft.api.adapter.Initializer.PrincipalFactor}) are set to A0 and B0 the first time the adapter acts.
 *
 * @param magnitude DoRA's m, (out_features of the block), or empty for plain LoRA
 * @param pissa     whether the delta is relative to the principal factors of its base rows (PiSSA)
 */
public record LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset, Optional<Tensor> magnitude,
                           boolean pissa) {

    /** A plain LoRA delta (no magnitude). */
    public LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset) {
        this(a, b, scaling, rowOffset, Optional.empty());
    }

    /** A LoRA or DoRA delta from zero (not PiSSA). */
    public LowRankDelta(Tensor a, Tensor b, float scaling, int rowOffset, Optional<Tensor> magnitude) {
        this(a, b, scaling, rowOffset, magnitude, false);
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
        if (pissa && magnitude.isPresent()) {
            throw new IllegalArgumentException("a low-rank delta is either DoRA (a magnitude) or PiSSA, not both");
        }
        if (pissa && !(scaling > 0)) {
            throw new IllegalArgumentException("a PiSSA delta needs a scaling > 0 (A0, B0 carry 1/sqrt(s)), found "
                    + scaling);
        }
        if (rowOffset < 0) {
            throw new IllegalArgumentException("row offset must be >= 0, found " + rowOffset);
        }
    }

    public int rank() {
        return a.dim(0);
    }
}
