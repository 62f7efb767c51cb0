package org.ssmpeft.runtime.cpu;

/**
 * The state extension (additional-scan) of a Mamba-2 block, its forward and its backward side by side, computed
 * beside the chunked SSD: the n' new state dimensions are independent of the base N, so the extended scan is the base
 * scan plus this one ({@link org.ssmpeft.api.hooks.StateExtensionHook}). Shapes: B batch, L rows per sequence (prefix
 * included), D = H·P, n' extra dimensions; x the first D columns of xBC (L·B, ldx), Δ (L·B, H), A' = -exp(a')
 * (H, n'), maps [E_B; E_C] (2n', D), the extra state h' (B, H, P, n'):
 * <pre>
 *   B'_t = E_B x_t,  C'_t = E_C x_t                                   (n') each, shared by the heads
 *   h'_t[h, p, k] = exp(Δ_t[h] A'[h, k]) h'_{t-1}[h, p, k] + Δ_t[h] x_t[h, p] B'_t[k]
 *   y_t[h, p] += Σ_k h'_t[h, p, k] C'_t[k]
 * </pre>
 * Sequential over time (the recurrence is cheap next to the projections: D·n' multiply-adds per token); the backward
 * recomputes the states from the layer's starting extra state instead of keeping them on the tape.
 */
final class SsdExtension {

    private SsdExtension() {
    }

    /** The dimensions of one call. */
    record Dims(int batch, int len, int heads, int headDim, int width) {
        int dInner() {
            return heads * headDim;
        }
    }

    /** y += the extension's read-out; {@code state} (B, D·n') advances in place. */
    static void forward(Parallel par, float[] y, float[] xbc, int ldx, float[] dt, float[] negA, float[] maps,
                        float[] state, Dims s) {
        int di = s.dInner();
        int ne = s.width();
        par.forEach(s.batch(), b -> {
            float[] bc = new float[2 * ne];
            for (int t = 0; t < s.len(); t++) {
                int r = b * s.len() + t;
                project(bc, maps, xbc, r * ldx, di, ne);
                for (int h = 0; h < s.heads(); h++) {
                    float dth = dt[r * s.heads() + h];
                    for (int p = 0; p < s.headDim(); p++) {
                        int d = h * s.headDim() + p;
                        float xv = xbc[r * ldx + d];
                        int base = (b * di + d) * ne;
                        float acc = 0f;
                        for (int k = 0; k < ne; k++) {
                            float v = (float) Math.exp(dth * negA[h * ne + k]) * state[base + k] + dth * xv * bc[k];
                            state[base + k] = v;
                            acc += v * bc[ne + k];
                        }
                        y[r * di + d] += acc;
                    }
                }
            }
        });
    }

    /**
     * The gradients of {@link #forward} given dL/dy (L·B, D): dx and dΔ are added to {@code dxbc} (its first D
     * columns, stride ldx) and {@code ddt}; dA' (H, n') and d[E_B; E_C] (2n', D) are added to {@code dNegA} and
     * {@code dMaps}. {@code start} is the extra state before the forward (B, D·n').
     */
    static void backward(float[] dxbc, float[] ddt, float[] dNegA, float[] dMaps, float[] dy, float[] xbc, int ldx,
                         float[] dt, float[] negA, float[] maps, float[] start, Dims s) {
        int di = s.dInner();
        int ne = s.width();
        int hs = di * ne;
        int len = s.len();
        for (int b = 0; b < s.batch(); b++) {
            // the states after each step, recomputed from the start
            float[] states = new float[len * hs];
            float[] bc = new float[2 * ne];
            for (int t = 0; t < len; t++) {
                int r = b * len + t;
                project(bc, maps, xbc, r * ldx, di, ne);
                for (int h = 0; h < s.heads(); h++) {
                    float dth = dt[r * s.heads() + h];
                    for (int p = 0; p < s.headDim(); p++) {
                        int d = h * s.headDim() + p;
                        float xv = xbc[r * ldx + d];
                        for (int k = 0; k < ne; k++) {
                            float prev = t == 0 ? start[b * hs + d * ne + k] : states[(t - 1) * hs + d * ne + k];
                            states[t * hs + d * ne + k] = (float) Math.exp(dth * negA[h * ne + k]) * prev
                                    + dth * xv * bc[k];
                        }
                    }
                }
            }
            float[] carry = new float[hs]; // dL/dh'_t through h'_{t+1}
            float[] dbc = new float[2 * ne];
            for (int t = len - 1; t >= 0; t--) {
                int r = b * len + t;
                project(bc, maps, xbc, r * ldx, di, ne);
                java.util.Arrays.fill(dbc, 0f);
                for (int h = 0; h < s.heads(); h++) {
                    float dth = dt[r * s.heads() + h];
                    double dDt = 0;
                    for (int p = 0; p < s.headDim(); p++) {
                        int d = h * s.headDim() + p;
                        float xv = xbc[r * ldx + d];
                        float g = dy[r * di + d];
                        double dx = 0;
                        for (int k = 0; k < ne; k++) {
                            int i = d * ne + k;
                            float prev = t == 0 ? start[b * hs + i] : states[(t - 1) * hs + i];
                            float alpha = (float) Math.exp(dth * negA[h * ne + k]);
                            float ds = carry[i] + g * bc[ne + k];            // dL/dh'_t
                            dbc[ne + k] += g * states[t * hs + i];            // dL/dC'_t
                            dDt += ds * (negA[h * ne + k] * alpha * prev + xv * bc[k]);
                            dNegA[h * ne + k] += ds * dth * alpha * prev;
                            dx += ds * dth * bc[k];
                            dbc[k] += ds * dth * xv;                          // dL/dB'_t
                            carry[i] = alpha * ds;
                        }
                        dxbc[r * ldx + d] += (float) dx;
                    }
                    ddt[r * s.heads() + h] += (float) dDt;
                }
                // [B' | C'] = [E_B; E_C] x: d[E_B; E_C] += [dB' | dC'] ⊗ x, dx += [E_B; E_C]ᵀ [dB' | dC']
                for (int k = 0; k < 2 * ne; k++) {
                    float gk = dbc[k];
                    if (gk == 0f) {
                        continue;
                    }
                    for (int d = 0; d < di; d++) {
                        dMaps[k * di + d] += gk * xbc[r * ldx + d];
                        dxbc[r * ldx + d] += gk * maps[k * di + d];
                    }
                }
            }
        }
    }

    // [B' | C'] = [E_B; E_C] x of one row, in double
    private static void project(float[] bc, float[] maps, float[] xbc, int offset, int di, int ne) {
        for (int k = 0; k < 2 * ne; k++) {
            double sum = 0;
            for (int d = 0; d < di; d++) {
                sum += (double) maps[k * di + d] * xbc[offset + d];
            }
            bc[k] = (float) sum;
        }
    }
}
