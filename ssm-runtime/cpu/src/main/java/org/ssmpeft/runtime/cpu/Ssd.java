package org.ssmpeft.runtime.cpu;

/**
 * Mamba-2's state space dual (SSD) scan, chunked, with the state hooks built in. Per batch row and head h (group
 * g = h / (H/G)), with a = A[h] a scalar, x_t (P), B_t and C_t (N) of the group, state h_t (P, N):
 * <pre>
 *   h_t = exp(Δ_t·a)·h_{t-1} + Δ_t·x_t ⊗ B_t                 h_{-1} = the given state (zeros, cache, h0)
 *   y_t = h_t·C_t + D·x_t + h'·C_t + y'                        h' (P, N) state offset, y' (P) output offset
 * </pre>
 * computed chunk by chunk (length Q; the last chunk may be shorter), never step by step. Inside a chunk starting
 * from state h_in, with the cumulative log-decay {@code c_i = Σ_{k≤i} Δ_k·a}:
 * <pre>
 *   y_i    = Σ_{s≤i} exp(c_i − c_s)·(C_i·B_s)·Δ_s·x_s        intra-chunk, quadratic ("attention") form
 *          + exp(c_i)·h_in·C_i                               inter-chunk, the state passed in
 *   h_out  = exp(c_last)·h_in + Σ_s exp(c_last − c_s)·Δ_s·x_s ⊗ B_s
 * </pre>
 * the chunked algorithm of transformers' {@code mamba2_chunk_scan} and mamba_ssm's {@code ssd_minimal}; equal to the
 * recurrence above up to rounding. One token is a chunk of length 1: the decoding step.
 *
 * <p>Backward with recomputation: the forward keeps only each chunk's input state h_in ((B, ceil(L/Q), H, P, N));
 * the backward walks the chunks in reverse, recomputes c, the C·B products and the decays from it, and carries
 * dL/dh_in to the chunk before. The adjoint of one chunk, with u_s = Δ_s·x_s, w_is = exp(c_i − c_s)·(C_i·B_s),
 * dH = dL/dh_out:
 * <pre>
 *   du_s += Σ_{i≥s} w_is·dy_i + exp(c_last − c_s)·dH·B_s        dw_is = dy_i·u_s
 *   dC_i += Σ_{s≤i} dw_is·exp(c_i − c_s)·B_s + exp(c_i)·h_inᵀ·dy_i + h'ᵀ·dy_i
 *   dB_s += Σ_{i≥s} dw_is·exp(c_i − c_s)·C_i + exp(c_last − c_s)·dHᵀ·u_s
 *   dc_i += Σ_s dw_is·w_is − Σ_t dw_ti·w_ti + exp(c_i)·dy_i·(h_in·C_i)     (and the h_out terms at c_last, c_s)
 *   dh_in = Σ_i exp(c_i)·dy_i ⊗ C_i + exp(c_last)·dH
 *   d(Δ_k·a) = Σ_{i≥k} dc_i;  dΔ_k = a·that + du_k·x_k;  da += Δ_k·that;  dx_k += Δ_k·du_k + D·dy_k
 * </pre>
 * Shapes: x, B, C are read from the conv output row (B·L, ldx): x at column h·P, B at xOff + D + g·N, C after all
 * G·N B columns, exactly the [x (D) | B (GN) | C (GN)] split of xBC.
 */
final class Ssd {

    private Ssd() {
    }

    /** Gradients of the scan; null entries are not computed. Parameter gradients are summed over the batch (+=). */
    record Grads(float[] dxbc, int lddxbc, float[] ddt, float[] dA, float[] dSkip, float[] dhOffset,
                 float[] dyOffset, float[] dh0) {
        /*
         * dxbc: (B·L, lddxbc) += dL/d[x | B | C] (columns as xbc), ddt: (B·L, H) += dL/dΔ, dA: (H) += dL/dA,
         * dSkip: (H) += dL/dD, dhOffset: (H, P, N) +=, dyOffset: (D) +=, dh0: (B, H, P, N) = dL/d(state before the
         * call), or null for any of them.
         */
    }

    /** Dimensions of one call: B, L, H heads of P channels, G groups, N, chunk length Q. */
    record Dims(int batch, int len, int heads, int headDim, int groups, int n, int chunk) {
        int dInner() {
            return heads * headDim;
        }

        int chunks() {
            return (len + chunk - 1) / chunk;
        }

        int group(int h) {
            return h / (heads / groups);
        }

        int headState() {
            return headDim * n;
        }
    }

    // xbc: (B·L, ldx) [x (D) | B (GN) | C (GN)] from column 0, dt: (B·L, H) Δ, a: (H), dSkip: (H),
    // state: (B, H, P, N) in/out, hOffset: (H, P, N) or null, yOffset: (D) or null,
    // checkpoints: (B, chunks, H, P, N) the chunk input states, or null -> y: (B·L, D)
    static void forward(Parallel par, float[] y, float[] xbc, int ldx, float[] dt, float[] a, float[] dSkip,
                        float[] state, float[] hOffset, float[] yOffset, float[] checkpoints, Dims s) {
        int hs = s.headState();
        int di = s.dInner();
        par.forEach(s.batch() * s.heads(), task -> {
            int b = task / s.heads();
            int h = task % s.heads();
            int g = s.group(h);
            int p0 = h * s.headDim();
            int bCol = di + g * s.n();
            int cCol = di + s.groups() * s.n() + g * s.n();
            int st = (b * s.heads() + h) * hs;
            float[] cum = new float[s.chunk()];
            float[] u = new float[s.chunk() * s.headDim()]; // Δ_s·x_s of the chunk
            for (int c = 0; c < s.chunks(); c++) {
                int t0 = c * s.chunk();
                int q = Math.min(s.chunk(), s.len() - t0);
                if (checkpoints != null) {
                    System.arraycopy(state, st, checkpoints, ((b * s.chunks() + c) * s.heads() + h) * hs, hs);
                }
                cumulate(cum, dt, a[h], b, h, t0, q, s);
                for (int i = 0; i < q; i++) {
                    int row = b * s.len() + t0 + i;
                    float delta = dt[row * s.heads() + h];
                    for (int p = 0; p < s.headDim(); p++) {
                        u[i * s.headDim() + p] = delta * xbc[row * ldx + p0 + p];
                    }
                }
                for (int i = 0; i < q; i++) {
                    int row = b * s.len() + t0 + i;
                    int cRow = row * ldx + cCol;
                    float decay = (float) Math.exp(cum[i]);
                    int yRow = row * di + p0;
                    for (int p = 0; p < s.headDim(); p++) {
                        // exp(c_i)·h_in·C_i + h'·C_i + D·x_i + y'
                        int hp = st + p * s.n();
                        float acc = 0f;
                        for (int k = 0; k < s.n(); k++) {
                            acc += state[hp + k] * xbc[cRow + k];
                        }
                        float out = decay * acc + dSkip[h] * xbc[row * ldx + p0 + p];
                        if (hOffset != null) {
                            int op = h * hs + p * s.n();
                            float off = 0f;
                            for (int k = 0; k < s.n(); k++) {
                                off += hOffset[op + k] * xbc[cRow + k];
                            }
                            out += off;
                        }
                        if (yOffset != null) {
                            out += yOffset[p0 + p];
                        }
                        y[yRow + p] = out;
                    }
                    // Σ_{s≤i} exp(c_i − c_s)·(C_i·B_s)·u_s
                    for (int j = 0; j <= i; j++) {
                        int bRow = (b * s.len() + t0 + j) * ldx + bCol;
                        float cb = 0f;
                        for (int k = 0; k < s.n(); k++) {
                            cb += xbc[cRow + k] * xbc[bRow + k];
                        }
                        float w = (float) Math.exp(cum[i] - cum[j]) * cb;
                        for (int p = 0; p < s.headDim(); p++) {
                            y[yRow + p] += w * u[j * s.headDim() + p];
                        }
                    }
                }
                // h_out = exp(c_last)·h_in + Σ_s exp(c_last − c_s)·u_s ⊗ B_s
                float last = cum[q - 1];
                float total = (float) Math.exp(last);
                for (int i = 0; i < hs; i++) {
                    state[st + i] *= total;
                }
                for (int j = 0; j < q; j++) {
                    int bRow = (b * s.len() + t0 + j) * ldx + bCol;
                    float v = (float) Math.exp(last - cum[j]);
                    for (int p = 0; p < s.headDim(); p++) {
                        float vu = v * u[j * s.headDim() + p];
                        int hp = st + p * s.n();
                        for (int k = 0; k < s.n(); k++) {
                            state[hp + k] += vu * xbc[bRow + k];
                        }
                    }
                }
            }
        });
    }

    // c_i = Σ_{k≤i} Δ_{t0+k}·a over the chunk of head h, summed in order (torch.cumsum)
    private static void cumulate(float[] cum, float[] dt, float a, int b, int h, int t0, int q, Dims s) {
        float acc = 0f;
        for (int i = 0; i < q; i++) {
            acc += dt[(b * s.len() + t0 + i) * s.heads() + h] * a;
            cum[i] = acc;
        }
    }

    // dy: (B·L, D) = dL/dy; the forward's inputs, its checkpoints; -> g. One task per (batch row, group): the B and
    // C gradients of a group have a single writer; per-head parameter gradients are summed over rows afterwards.
    static void backward(Parallel par, Grads g, float[] dy, float[] xbc, int ldx, float[] dt, float[] a,
                         float[] dSkip, float[] hOffset, float[] checkpoints, Dims s) {
        int hs = s.headState();
        int di = s.dInner();
        int pd = s.headDim();
        int n = s.n();
        int perGroup = s.heads() / s.groups();
        int bc = s.batch();
        float[] dA = new float[bc * s.heads()];
        float[] dD = new float[bc * s.heads()];
        float[] dhOff = g.dhOffset() == null ? null : new float[bc * s.heads() * hs];
        float[] dyOff = g.dyOffset() == null ? null : new float[bc * di];
        par.forEach(bc * s.groups(), task -> {
            int b = task / s.groups();
            int gr = task % s.groups();
            int bCol = di + gr * n;
            int cCol = di + s.groups() * n + gr * n;
            int q0 = s.chunk();
            float[] cum = new float[q0];
            float[] dcum = new float[q0];
            float[] u = new float[q0 * pd];
            float[] du = new float[q0 * pd];
            float[] dH = new float[hs];     // dL/dh_out of the current chunk
            float[] dIn = new float[hs];    // dL/dh_in
            float[] cb = new float[q0 * q0]; // C_i·B_s of the chunk, shared by the group's heads
            for (int h = gr * perGroup; h < (gr + 1) * perGroup; h++) {
                int p0 = h * pd;
                java.util.Arrays.fill(dH, 0f);
                for (int c = s.chunks() - 1; c >= 0; c--) {
                    int t0 = c * q0;
                    int q = Math.min(q0, s.len() - t0);
                    int hin = ((b * s.chunks() + c) * s.heads() + h) * hs;
                    cumulate(cum, dt, a[h], b, h, t0, q, s);
                    java.util.Arrays.fill(dcum, 0f);
                    java.util.Arrays.fill(du, 0f);
                    for (int i = 0; i < q; i++) {
                        int row = b * s.len() + t0 + i;
                        float delta = dt[row * s.heads() + h];
                        for (int p = 0; p < pd; p++) {
                            u[i * pd + p] = delta * xbc[row * ldx + p0 + p];
                        }
                        for (int j = 0; j <= i; j++) {
                            int bRow = (b * s.len() + t0 + j) * ldx + bCol;
                            float acc = 0f;
                            for (int k = 0; k < n; k++) {
                                acc += xbc[row * ldx + cCol + k] * xbc[bRow + k];
                            }
                            cb[i * q0 + j] = acc;
                        }
                    }
                    // h_out = exp(c_last)·h_in + Σ_s exp(c_last − c_s)·u_s ⊗ B_s
                    float last = cum[q - 1];
                    float total = (float) Math.exp(last);
                    float dot = 0f;
                    for (int k = 0; k < hs; k++) {
                        dIn[k] = total * dH[k];
                        dot += dH[k] * checkpoints[hin + k];
                    }
                    dcum[q - 1] += total * dot;
                    for (int j = 0; j < q; j++) {
                        int bRow = (b * s.len() + t0 + j) * ldx + bCol;
                        int dbRow = (b * s.len() + t0 + j) * g.lddxbc() + bCol;
                        float v = (float) Math.exp(last - cum[j]);
                        float dv = 0f;
                        for (int p = 0; p < pd; p++) {
                            float qp = 0f; // (dH·B_s)[p]
                            int hp = p * n;
                            for (int k = 0; k < n; k++) {
                                qp += dH[hp + k] * xbc[bRow + k];
                            }
                            dv += qp * u[j * pd + p];
                            du[j * pd + p] += v * qp;
                        }
                        for (int k = 0; k < n; k++) {
                            float acc = 0f; // (dHᵀ·u_s)[k]
                            for (int p = 0; p < pd; p++) {
                                acc += dH[p * n + k] * u[j * pd + p];
                            }
                            g.dxbc()[dbRow + k] += v * acc;
                        }
                        dcum[q - 1] += dv * v;
                        dcum[j] -= dv * v;
                    }
                    for (int i = 0; i < q; i++) {
                        int row = b * s.len() + t0 + i;
                        int cRow = row * ldx + cCol;
                        int dcRow = row * g.lddxbc() + cCol;
                        int dyRow = row * di + p0;
                        float e = (float) Math.exp(cum[i]);
                        // y_i = exp(c_i)·h_in·C_i + h'·C_i + D·x_i + y' + Σ_{s≤i} w_is·u_s
                        float dSum = 0f;
                        float dyr = 0f;
                        for (int p = 0; p < pd; p++) {
                            float d = dy[dyRow + p];
                            dSum += d * xbc[row * ldx + p0 + p];
                            g.dxbc()[row * g.lddxbc() + p0 + p] += dSkip[h] * d;
                            int hp = hin + p * n;
                            float r = 0f;
                            for (int k = 0; k < n; k++) {
                                r += checkpoints[hp + k] * xbc[cRow + k];
                                dIn[p * n + k] += e * d * xbc[cRow + k];
                            }
                            dyr += d * r;
                            if (dyOff != null) {
                                dyOff[b * di + p0 + p] += d;
                            }
                        }
                        dD[b * s.heads() + h] += dSum;
                        dcum[i] += e * dyr;
                        for (int k = 0; k < n; k++) {
                            float acc = 0f;
                            for (int p = 0; p < pd; p++) {
                                acc += dy[dyRow + p] * checkpoints[hin + p * n + k];
                            }
                            g.dxbc()[dcRow + k] += e * acc;
                        }
                        if (hOffset != null) {
                            int op = h * hs;
                            for (int k = 0; k < n; k++) {
                                float acc = 0f;
                                for (int p = 0; p < pd; p++) {
                                    acc += dy[dyRow + p] * hOffset[op + p * n + k];
                                }
                                g.dxbc()[dcRow + k] += acc;
                            }
                            if (dhOff != null) {
                                int dp = (b * s.heads() + h) * hs;
                                for (int p = 0; p < pd; p++) {
                                    float d = dy[dyRow + p];
                                    for (int k = 0; k < n; k++) {
                                        dhOff[dp + p * n + k] += d * xbc[cRow + k];
                                    }
                                }
                            }
                        }
                        for (int j = 0; j <= i; j++) {
                            int bRow = (b * s.len() + t0 + j) * ldx + bCol;
                            int dbRow = (b * s.len() + t0 + j) * g.lddxbc() + bCol;
                            float l = (float) Math.exp(cum[i] - cum[j]);
                            float w = l * cb[i * q0 + j];
                            float dw = 0f;
                            for (int p = 0; p < pd; p++) {
                                float d = dy[dyRow + p];
                                dw += d * u[j * pd + p];
                                du[j * pd + p] += w * d;
                            }
                            float dcb = dw * l;
                            for (int k = 0; k < n; k++) {
                                g.dxbc()[dcRow + k] += dcb * xbc[bRow + k];
                                g.dxbc()[dbRow + k] += dcb * xbc[cRow + k];
                            }
                            float dl = dw * w;
                            dcum[i] += dl;
                            dcum[j] -= dl;
                        }
                    }
                    // c_i = Σ_{k≤i} Δ_k·a: d(Δ_k·a) = Σ_{i≥k} dc_i;  u_k = Δ_k·x_k
                    float rev = 0f;
                    for (int k = q - 1; k >= 0; k--) {
                        rev += dcum[k];
                        int row = b * s.len() + t0 + k;
                        float delta = dt[row * s.heads() + h];
                        float dDelta = rev * a[h];
                        dA[b * s.heads() + h] += rev * delta;
                        for (int p = 0; p < pd; p++) {
                            float dup = du[k * pd + p];
                            dDelta += dup * xbc[row * ldx + p0 + p];
                            g.dxbc()[row * g.lddxbc() + p0 + p] += delta * dup;
                        }
                        if (g.ddt() != null) {
                            g.ddt()[row * s.heads() + h] += dDelta;
                        }
                    }
                    System.arraycopy(dIn, 0, dH, 0, hs);
                }
                if (g.dh0() != null) {
                    System.arraycopy(dH, 0, g.dh0(), (b * s.heads() + h) * hs, hs);
                }
            }
        });
        for (int b = 0; b < bc; b++) {
            for (int h = 0; h < s.heads(); h++) {
                if (g.dA() != null) {
                    g.dA()[h] += dA[b * s.heads() + h];
                }
                if (g.dSkip() != null) {
                    g.dSkip()[h] += dD[b * s.heads() + h];
                }
            }
            if (dhOff != null) {
                for (int i = 0; i < s.heads() * hs; i++) {
                    g.dhOffset()[i] += dhOff[b * s.heads() * hs + i];
                }
            }
            if (dyOff != null) {
                for (int i = 0; i < di; i++) {
                    g.dyOffset()[i] += dyOff[b * di + i];
                }
            }
        }
    }
}
