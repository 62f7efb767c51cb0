package org.ssmpeft.runtime.cpu;

/** The scalar non-linearities of Mamba and their derivatives, in float32 as PyTorch computes them. */
final class Activations {

    private Activations() {
    }

    /** silu(x) = x · sigmoid(x) = x / (1 + e^-x). */
    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** silu'(x) = σ(x) · (1 + x · (1 − σ(x))). */
    static float siluGrad(float x) {
        double s = 1.0 / (1.0 + Math.exp(-x));
        return (float) (s * (1.0 + x * (1.0 - s)));
    }

    /** softplus(x) = log(1 + e^x), and x itself above 20 (torch.nn.functional.softplus' threshold). */
    static float softplus(float x) {
        return x > 20f ? x : (float) Math.log1p(Math.exp(x));
    }

    /**
     * softplus'(x) = σ(x), written in terms of the output y = softplus(x): σ(x) = 1 − e^{−y}, so the pre-activation
     * need not be kept (above the threshold y = x and 1 − e^{−y} rounds to 1, the derivative of the identity).
     */
    static float softplusGradFromOutput(float y) {
        return (float) -Math.expm1(-y);
    }
}
