package org.ssmpeft.runtime.cpu;

/**
 * Mamba-2's gated RMSNorm, {@code norm(y, z)} with the gate before the norm (norm_before_gate = False):
 * <pre>
 *   g = y ⊙ silu(z);   out = w ⊙ g · r,   r = 1 / sqrt(mean_group(g²) + eps)
 * </pre>
 * over groups of {@code gs} consecutive channels of each row (gs = D in transformers, D / n_groups in mamba_ssm).
 * Backward: dg = r·(w ⊙ dout) − g·r³/gs·Σ_group w·dout·g;  dy = dg ⊙ silu(z);  dz = dg ⊙ y ⊙ silu'(z);
 * dw = Σ_rows dout ⊙ g·r.
 */
final class GatedRmsNorm {

    private GatedRmsNorm() {
    }

    // y: (M, D), z: (M, ldz) at column zOff, w: (D) -> out: (M, D)
    static void forward(Parallel par, float[] out, float[] y, float[] z, int ldz, int zOff, float[] w, int m, int d,
                        int gs, double eps) {
        par.forRange(m, d, 1 << 15, (r0, r1) -> {
            float[] g = new float[gs];
            for (int r = r0; r < r1; r++) {
                for (int g0 = 0; g0 < d; g0 += gs) {
                    double ss = gate(g, y, z, ldz, zOff, r, d, g0, gs);
                    float inv = (float) (1.0 / Math.sqrt(ss / gs + eps));
                    for (int i = 0; i < gs; i++) {
                        out[r * d + g0 + i] = w[g0 + i] * (g[i] * inv);
                    }
                }
            }
        });
    }

    // dout: (M, D) -> dy: (M, D) (assigned), dz: (M, lddz) at column zOff (assigned), dw: (D) += or null
    static void backward(Parallel par, float[] dy, float[] dz, int lddz, float[] dw, float[] dout, float[] y,
                         float[] z, int ldz, int zOff, float[] w, int m, int d, int gs, double eps) {
        float[] gr = dw == null ? null : new float[Math.multiplyExact(m, d)]; // g·r, for dw
        par.forRange(m, d, 1 << 15, (r0, r1) -> {
            float[] g = new float[gs];
            for (int r = r0; r < r1; r++) {
                for (int g0 = 0; g0 < d; g0 += gs) {
                    double ss = gate(g, y, z, ldz, zOff, r, d, g0, gs);
                    double rr = 1.0 / Math.sqrt(ss / gs + eps);
                    double dot = 0;
                    for (int i = 0; i < gs; i++) {
                        dot += (double) w[g0 + i] * dout[r * d + g0 + i] * g[i];
                    }
                    double k = dot * rr * rr * rr / gs;
                    for (int i = 0; i < gs; i++) {
                        int c = g0 + i;
                        float dg = (float) (rr * w[c] * dout[r * d + c] - g[i] * k);
                        float zv = z[r * ldz + zOff + c];
                        dy[r * d + c] = dg * Activations.silu(zv);
                        dz[r * lddz + zOff + c] = dg * y[r * d + c] * Activations.siluGrad(zv);
                        if (gr != null) {
                            gr[r * d + c] = (float) (g[i] * rr);
                        }
                    }
                }
            }
        });
        if (dw != null) {
            par.forRange(d, m, 1 << 15, (c0, c1) -> {
                for (int c = c0; c < c1; c++) {
                    double acc = 0;
                    for (int r = 0; r < m; r++) {
                        acc += (double) dout[r * d + c] * gr[r * d + c];
                    }
                    dw[c] += (float) acc;
                }
            });
        }
    }

    // g = y ⊙ silu(z) over the group of gs channels at g0 of row r -> Σ g² (in double)
    private static double gate(float[] g, float[] y, float[] z, int ldz, int zOff, int r, int d, int g0, int gs) {
        double ss = 0;
        for (int i = 0; i < gs; i++) {
            int c = g0 + i;
            g[i] = y[r * d + c] * Activations.silu(z[r * ldz + zOff + c]);
            ss += (double) g[i] * g[i];
        }
        return ss;
    }
}
