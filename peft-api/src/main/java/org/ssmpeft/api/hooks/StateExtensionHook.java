package org.ssmpeft.api.hooks;

import java.util.Objects;
import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;

/**
 * State-extension hook (additional-scan; the reference code's {@code DIM_EXTEND}): the state of each channel grows
 * from N to N + n' dimensions, and the n' new ones have their own trainable decay, input and read-out. Per layer,
 * with {@code x_t} the conv output (D), {@code Δ_t} the step size (D) and {@code z_t} the gate (D) of the block:
 * <pre>
 *   A' = -exp(a')                                   a': (D, n'), one log-decay per channel and new state
 *   B'_t = E_B x_t,  C'_t = E_C x_t                 E_B, E_C: (n', D); shared by the channels, like B_t and C_t
 *   h'_t = exp(Δ_t A') ⊙ h'_{t-1} + (Δ_t x_t) ⊗ B'_t   h': (D, n') per sequence, h'_{-1} = 0 (or the cache's)
 *   y_t += silu(z_t) ⊙ (h'_t · C'_t)                inside the gate, like the base read-out C_t · h_t
 * </pre>
 * This is exactly the reference's {@code A_log' = [A_log | a']}, {@code W_B' = [W_B; E_B]}, {@code W_C' = [W_C; E_C]}
 * run as one scan of width N + n': the state dimensions of a selective scan are independent of each other, so the
 * extended scan is the base scan plus this one. With {@code E_C = 0} the new states are written but never read, and
 * the output is the base model's. The extra state is recurrent: decoding carries it from step to step (the
 * generation cache of a backend holds it next to the base state).
 *
 * <p>Mamba-2 (the mapping of this definition onto per-head states): the n' new dimensions extend each head's state
 * (H, P, N) to (H, P, N + n'), with one log-decay per head and new dimension, as Mamba-2 has one A per head:
 * <pre>
 *   A' = -exp(a')                                   a': (H, n')
 *   B'_t = E_B x_t,  C'_t = E_C x_t                 E_B, E_C: (n', D), x_t the conv output's x (D = H·P)
 *   h'_t = exp(Δ_t A') ⊙ h'_{t-1} + (Δ_t x_t) ⊗ B'_t   h': (H, P, n'), Δ_t per head (after the dt clamp)
 *   y_t += h'_t · C'_t                              before the gated norm, like the base read-out
 * </pre>
 * B' and C' are shared by all heads, as Mamba-1's are shared by all channels (Mamba-2's own B and C are per group;
 * a single group is the same thing). The extra state per sequence is D·n' floats in both families.
 */
public non-sealed interface StateExtensionHook extends Hook {

    /**
     * The tensors of one layer's extension, n' = {@code logDecay.dim(1)} new state dimensions per channel.
     *
     * @param logDecay a' (D, n'): {@code A' = -exp(a')}
     * @param inputMap E_B (n', D): {@code B'_t = E_B x_t}
     * @param readOut  E_C (n', D): {@code C'_t = E_C x_t}
     */
    record StateExtension(Tensor logDecay, Tensor inputMap, Tensor readOut) {

        public StateExtension {
            Objects.requireNonNull(logDecay, "logDecay");
            Objects.requireNonNull(inputMap, "inputMap");
            Objects.requireNonNull(readOut, "readOut");
            if (logDecay.rank() != 2 || inputMap.rank() != 2 || readOut.rank() != 2
                    || inputMap.dim(0) != logDecay.dim(1) || readOut.dim(0) != logDecay.dim(1)
                    || readOut.dim(1) != inputMap.dim(1)) {
                throw new IllegalArgumentException("a state extension needs a' (D, n') (Mamba-2: (H, n')), E_B (n', D)"
                        + " and E_C (n', D);"
                        + " found a'" + Tensor.format(logDecay.shape()) + ", E_B" + Tensor.format(inputMap.shape())
                        + ", E_C" + Tensor.format(readOut.shape()));
            }
        }

        /** n', the number of new state dimensions per channel. */
        public int width() {
            return logDecay.dim(1);
        }

        /** The rows of a': D channels (Mamba-1), H heads (Mamba-2). */
        public int channels() {
            return logDecay.dim(0);
        }

        /** D, the width of x that E_B and E_C read. */
        public int inputWidth() {
            return inputMap.dim(1);
        }
    }

    /** The extension of {@code layer}, or empty when the layer is not adapted. */
    Optional<StateExtension> stateExtension(int layer);
}
