package org.ssmpeft.runtime.cpu;

/**
 * Mamba's causal depthwise convolution followed by SiLU, over a sequence that continues a carried conv state.
 *
 * <p>The state holds the last K inputs seen, oldest first (transformers' {@code conv_states}); a fresh sequence
 * starts from zeros, which is the left zero padding of the full-sequence conv. With the extended input
 * {@code e = [state_0..state_{K-1}, x_0..x_{L-1}]}:
 * {@code y_t = silu(p_t)}, {@code p_t = bias + Σ_{k<K} w[k] · e[t+1+k]} (w[K-1] multiplies the current token), and
 * afterwards {@code state = e[L..L+K-1]}. One token with a carried state is exactly transformers' decode step.
 */
final class CausalConv1d {

    private static final int CHANNEL_BLOCK = 32;

    private CausalConv1d() {
    }

    // x: (B, L, D) row stride ldx, w: (D, K), bias: (D) or null, state: (B, D, K) in/out -> y: (B, L, D)
    static void forwardSilu(Parallel par, float[] y, float[] x, int ldx, float[] w, float[] bias, float[] state,
                            int batch, int len, int d, int k) {
        forwardSilu(par, y, null, x, ldx, w, bias, state, batch, len, d, k);
    }

    // as above, and pre: (B, L, D) the pre-activation p (kept for the backward) or null
    static void forwardSilu(Parallel par, float[] y, float[] pre, float[] x, int ldx, float[] w, float[] bias,
                            float[] state, int batch, int len, int d, int k) {
        forwardSilu(par, y, pre, x, 0, ldx, w, bias, state, batch, len, d, k);
    }

    // as above, x's channels starting at column xOff of its rows (Mamba-2: xBC inside the in_proj output)
    static void forwardSilu(Parallel par, float[] y, float[] pre, float[] x, int xOff, int ldx, float[] w,
                            float[] bias, float[] state, int batch, int len, int d, int k) {
        forwardSilu(par, y, pre, x, xOff, ldx, w, bias, state, 0, batch, 0, len, d, k);
    }

    // as above, on sequences [first, first + rows) of the batch only, each from position start of its len slots (a
    // mixed-adapter batch: the slots before start belong to another row's longer prefix, neither read nor written)
    static void forwardSilu(Parallel par, float[] y, float[] pre, float[] x, int xOff, int ldx, float[] w,
                            float[] bias, float[] state, int first, int rows, int start, int len, int d, int k) {
        int blocks = (d + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        int steps = len - start;
        par.forEach(rows * blocks, task -> {
            int b = first + task / blocks;
            int c0 = (task % blocks) * CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + CHANNEL_BLOCK);
            int x0 = b * len + start; // the sequence's first row
            for (int t = 0; t < steps; t++) {
                int yRow = (x0 + t) * d;
                for (int c = c0; c < c1; c++) {
                    float acc = bias == null ? 0f : bias[c];
                    int s = (b * d + c) * k;
                    for (int j = 0; j < k; j++) {
                        int e = t + 1 + j;
                        float v = e < k ? state[s + e] : x[(x0 + e - k) * ldx + xOff + c];
                        acc += w[c * k + j] * v;
                    }
                    if (pre != null) {
                        pre[yRow + c] = acc;
                    }
                    y[yRow + c] = Activations.silu(acc);
                }
            }
            // state = e[L .. L+K-1]; slot j reads e[L+j] before slot L+j (if inside the state) is overwritten
            for (int c = c0; c < c1; c++) {
                int s = (b * d + c) * k;
                for (int j = 0; j < k; j++) {
                    int e = steps + j;
                    state[s + j] = e < k ? state[s + e] : x[(x0 + e - k) * ldx + xOff + c];
                }
            }
        });
    }

    // dy: (B, L, D) = dL/dy, pre: (B, L, D), x: (B, L, D) row stride ldx, w: (D, K), from a zero conv state
    // -> dx: (B, L, D) row stride lddx (assigned), dw: (D, K) += or null, dBias: (D) += or null
    // dp_t = dy_t·silu'(p_t);  dx_s = Σ_j dp_{s+K-1-j}·w[j];  dw[j] = Σ_t dp_t·e[t+1+j];  dBias = Σ_t dp_t
    static void backwardSilu(Parallel par, float[] dx, int lddx, float[] dw, float[] dBias, float[] dy, float[] pre,
                             float[] x, int ldx, float[] w, int batch, int len, int d, int k) {
        backwardSilu(par, dx, 0, lddx, dw, dBias, dy, pre, x, 0, ldx, w, batch, len, d, k);
    }

    // as above, dx's and x's channels starting at columns dxOff and xOff of their rows
    static void backwardSilu(Parallel par, float[] dx, int dxOff, int lddx, float[] dw, float[] dBias, float[] dy,
                             float[] pre, float[] x, int xOff, int ldx, float[] w, int batch, int len, int d, int k) {
        int blocks = (d + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        // one task per channel block over all batch rows: dw and dBias of a channel have a single writer
        par.forEach(blocks, blk -> {
            int c0 = blk * CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + CHANNEL_BLOCK);
            int cb = c1 - c0;
            float[] dp = new float[len * cb];
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < len; t++) {
                    int row = (b * len + t) * d;
                    for (int c = c0; c < c1; c++) {
                        dp[t * cb + c - c0] = dy[row + c] * Activations.siluGrad(pre[row + c]);
                    }
                }
                for (int s = 0; s < len; s++) {
                    int xr = (b * len + s) * lddx + dxOff;
                    for (int c = c0; c < c1; c++) {
                        float acc = 0f;
                        for (int j = 0; j < k; j++) {
                            int t = s + k - 1 - j;
                            if (t < len) {
                                acc += dp[t * cb + c - c0] * w[c * k + j];
                            }
                        }
                        dx[xr + c] = acc;
                    }
                }
                for (int c = c0; c < c1; c++) {
                    if (dBias != null) {
                        float acc = 0f;
                        for (int t = 0; t < len; t++) {
                            acc += dp[t * cb + c - c0];
                        }
                        dBias[c] += acc;
                    }
                    if (dw != null) {
                        for (int j = 0; j < k; j++) {
                            float acc = 0f;
                            for (int t = 0; t < len; t++) {
                                int e = t + 1 + j - k; // index into x; negative means the zero state
                                if (e >= 0) {
                                    acc += dp[t * cb + c - c0] * x[(b * len + e) * ldx + xOff + c];
                                }
                            }
                            dw[c * k + j] += acc;
                        }
                    }
                }
            }
        });
    }
}
