package org.ssmpeft.runtime.train;

import java.util.Collection;

/**
 * Gradient clipping by global norm, as PyTorch's {@code torch.nn.utils.clip_grad_norm_} (norm type 2):
 *
 * <pre>
 * total = ‖(‖g_1‖, ‖g_2‖, ...)‖     the norm of the per-tensor norms
 * coef  = min(1, maxNorm / (total + 1e-6))
 * g_i   = g_i · coef                 always multiplied, a no-op when coef = 1
 * </pre>
 *
 * Norms are accumulated in float64 here (PyTorch accumulates float32 norms in float32); the coefficient is applied in
 * float32 as PyTorch does.
 */
public final class GradientClipping {

    private GradientClipping() {
    }

    /** The global L2 norm of the gradients: sqrt of the sum of squares of every element. */
    public static double globalNorm(Collection<float[]> gradients) {
        double sumOfSquares = 0;
        for (float[] g : gradients) {
            double s = 0;
            for (float v : g) {
                s += (double) v * v;
            }
            double n = Math.sqrt(s);
            sumOfSquares += n * n;
        }
        return Math.sqrt(sumOfSquares);
    }

    /**
     * Scales the gradients in place so that their global norm is at most {@code maxNorm}.
     *
     * @return the norm before clipping (what PyTorch returns and Hugging Face logs as grad_norm)
     */
    public static double clipByGlobalNorm(Collection<float[]> gradients, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max gradient norm must be > 0, found " + maxNorm);
        }
        double total = globalNorm(gradients);
        float coef = (float) Math.min(1.0, maxNorm / (total + 1e-6));
        for (float[] g : gradients) {
            for (int i = 0; i < g.length; i++) {
                g[i] *= coef;
            }
        }
        return total;
    }
}
