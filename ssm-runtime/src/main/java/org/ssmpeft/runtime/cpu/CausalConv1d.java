package org.ssmpeft.runtime.cpu;

/**
 * Mamba's causal depthwise convolution followed by SiLU, over a sequence that continues a carried conv state.
 *
 * <p>The state holds the last K inputs seen, oldest first (transformers' {@code conv_states}); a fresh sequence
 * starts from zeros, which is the left zero padding of the full-sequence conv. With the extended input
 * {@code e = [state_0..state_{K-1}, x_0..x_{L-1}]}:
 * {@code y_t = silu(bias + Σ_{k<K} w[k] · e[t+1+k])} (w[K-1] multiplies the current token), and afterwards
 * {@code state = e[L..L+K-1]}. One token with a carried state is exactly transformers' decode step.
 */
final class CausalConv1d {

    private static final int CHANNEL_BLOCK = 32;

    private CausalConv1d() {
    }

    // x: (B, L, D) row stride ldx, w: (D, K), bias: (D) or null, state: (B, D, K) in/out -> y: (B, L, D)
    static void forwardSilu(Parallel par, float[] y, float[] x, int ldx, float[] w, float[] bias, float[] state,
                            int batch, int len, int d, int k) {
        int blocks = (d + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        par.forEach(batch * blocks, task -> {
            int b = task / blocks;
            int c0 = (task % blocks) * CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + CHANNEL_BLOCK);
            for (int t = 0; t < len; t++) {
                int yRow = (b * len + t) * d;
                for (int c = c0; c < c1; c++) {
                    float acc = bias == null ? 0f : bias[c];
                    int s = (b * d + c) * k;
                    for (int j = 0; j < k; j++) {
                        int e = t + 1 + j;
                        float v = e < k ? state[s + e] : x[(b * len + e - k) * ldx + c];
                        acc += w[c * k + j] * v;
                    }
                    y[yRow + c] = Activations.silu(acc);
                }
            }
            // state = e[L .. L+K-1]; slot j reads e[L+j] before slot L+j (if inside the state) is overwritten
            for (int c = c0; c < c1; c++) {
                int s = (b * d + c) * k;
                for (int j = 0; j < k; j++) {
                    int e = len + j;
                    state[s + j] = e < k ? state[s + e] : x[(b * len + e - k) * ldx + c];
                }
            }
        });
    }
}
