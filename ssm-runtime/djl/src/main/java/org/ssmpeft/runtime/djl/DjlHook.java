package org.ssmpeft.runtime.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.ssmpeft.api.tensor.Tensor;

/**
 * A hook kind the framework does not have, tried on the DJL backend only and with no backward pass to write: an
 * {@link org.ssmpeft.api.adapter.Adapter} implements this interface and rewrites the SSM output of every layer with
 * NDArray operations; DJL's autograd differentiates whatever it computes.
 *
 * <p>Where it acts, per layer (DESIGN.md §3 formulas):
 * <pre>
 *   y = (C·h + D⊙x + C·h' + y') ⊙ silu(z)       built-in state/output offsets included, virtual prefix tokens dropped
 *   y = hook.ssmOutput(layer, y, site)          ← here, for each acting DjlHook adapter in stack order
 *   out = out_proj(y) + residual
 * </pre>
 *
 * <p>Trainable values: the hook turns its adapter's parameter tensors into NDArrays with
 * {@link Site#parameter(Tensor)}. The backend then returns dL/d(tensor) for them like for any built-in hook (and
 * {@link org.ssmpeft.api.adapter.Adapter#parameterGradients} maps them to parameters, by identity, as usual). The hook
 * must not close the arrays it receives; arrays it creates belong to the call and are freed after it.
 *
 * <p>Constants: take them from {@link Site#constant(float)} ({@code y.mul(site.constant(2f))}), not from DJL's
 * {@code NDArray.mul(Number)}, {@code div(Number)} and the like. On the PyTorch engine those wrap the number in a tensor
 * over a Java direct buffer and close it as soon as the operation returns, while autograd keeps that tensor for the
 * backward pass; once the garbage collector frees the buffer, the gradients are computed from freed memory (wrong
 * values, or a crash).
 */
public interface DjlHook {

    /**
     * Rewrites the SSM output of {@code layer}.
     *
     * @param layer block index
     * @param y     gated SSM output of the real tokens: (B, L, D)
     * @param site  the block's other activations and a way to read parameters
     * @return the new y, (B, L, D); {@code y} itself to leave the layer unchanged
     */
    NDArray ssmOutput(int layer, NDArray y, Site site);

    /** What a hook can see and use at its call. */
    interface Site {

        /** The manager of the call (for constants such as {@code manager().create(1f)}). */
        NDManager manager();

        /**
         * An adapter tensor as a float32 NDArray of the same shape. During training it is a leaf that requires a
         * gradient; the same tensor object gives the same array within a call.
         */
        NDArray parameter(Tensor tensor);

        /**
         * A float32 scalar that stays valid for the whole call, backward pass included: use it instead of DJL's
         * {@code op(Number)} methods (see {@link DjlHook}).
         */
        default NDArray constant(float value) {
            return manager().create(value);
        }

        /** The SSM input x after conv and SiLU, real tokens only: (B, L, D). */
        NDArray ssmInput();

        /** The gate z (second half of in_proj's output): (B, L, D). */
        NDArray gate();
    }
}
