package org.ssmpeft.runtime.cpu;

/**
 * Mamba-1's selective scan, sequential in time, with the gate and the state hooks built in:
 * <pre>
 *   h_t = exp(Δ_t·A) ⊙ h_{t-1} + (Δ_t·B_t)·x_t            h: (D, N) per batch row, h_{-1} = the given state
 *   y_t = (C_t·(h_t + h') + D·x_t + y') · silu(z_t)
 * </pre>
 * {@code h'} (state offset, state-offset tuning (h)) and {@code y'} (output offset, state-offset tuning (y)) are
 * optional; the initial state {@code h_{-1}} is whatever the state buffer holds (zeros for a fresh sequence, the
 * cache when decoding, h0 for initial-state tuning). Parallel over (batch, blocks of channels): channels are
 * independent, time is not.
 */
final class SelectiveScan {

    private static final int CHANNEL_BLOCK = 16;

    private SelectiveScan() {
    }

    // x: (B, L, D), dt: (B, L, D) (after softplus), a: (D, N) = -exp(A_log), bc: (B, L, ldbc) holding B_t at
    // [bOff, bOff+N) and C_t at [bOff+N, bOff+2N), dSkip: (D), z: (B, L, ldz) at zOff, state: (B, D, N) in/out,
    // hOffset: (D, N) or null, yOffset: (D) or null -> y: (B, L, D)
    static void forward(Parallel par, float[] y, float[] x, float[] dt, float[] a, float[] bc, int ldbc, int bOff,
                        float[] dSkip, float[] z, int ldz, int zOff, float[] state, float[] hOffset, float[] yOffset,
                        int batch, int len, int d, int n) {
        int blocks = (d + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        par.forEach(batch * blocks, task -> {
            int b = task / blocks;
            int c0 = (task % blocks) * CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + CHANNEL_BLOCK);
            int hBase = (b * d) * n;
            for (int t = 0; t < len; t++) {
                int m = b * len + t;
                int bRow = m * ldbc + bOff;
                int cRow = bRow + n;
                for (int c = c0; c < c1; c++) {
                    float delta = dt[m * d + c];
                    float xv = x[m * d + c];
                    int hc = hBase + c * n;
                    int ac = c * n;
                    float acc = 0f;
                    for (int i = 0; i < n; i++) {
                        float h = (float) Math.exp(delta * a[ac + i]) * state[hc + i] + (delta * bc[bRow + i]) * xv;
                        state[hc + i] = h;
                        acc += h * bc[cRow + i];
                    }
                    if (hOffset != null) {
                        for (int i = 0; i < n; i++) {
                            acc += hOffset[ac + i] * bc[cRow + i];
                        }
                    }
                    float out = acc + dSkip[c] * xv;
                    if (yOffset != null) {
                        out += yOffset[c];
                    }
                    y[m * d + c] = out * Activations.silu(z[m * ldz + zOff + c]);
                }
            }
        });
    }
}
