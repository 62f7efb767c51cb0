package org.ssmpeft.runtime.cpu;

/** The scalar non-linearities of Mamba, in float32 as PyTorch computes them. */
final class Activations {

    private Activations() {
    }

    /** silu(x) = x · sigmoid(x) = x / (1 + e^-x). */
    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** softplus(x) = log(1 + e^x), and x itself above 20 (torch.nn.functional.softplus' threshold). */
    static float softplus(float x) {
        return x > 20f ? x : (float) Math.log1p(Math.exp(x));
    }
}
