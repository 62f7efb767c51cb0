package org.ssmpeft.runtime.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

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
 *
 * <p>The backward does not keep every state: the forward stores h only at chunk boundaries (every {@code chunk}
 * steps, (B, ceil(L/chunk), D, N) floats) and the reverse sweep recomputes the states inside a chunk from its
 * checkpoint, with the forward's very expression ({@link #advance}), so the recomputed states are the forward's bit
 * for bit.
 *
 * <p>The step's N decays and updates run in lanes of the machine's preferred vector ({@link #advance}: exp by
 * {@link LaneExp}, whose lanes and scalar tail (for N not a multiple of the lanes) give the same bits however the JIT
 * compiled them); the read-out C·h sums in index order, as before.
 */
final class SelectiveScan {

    private static final int CHANNEL_BLOCK = 16;
    /** Wider in the backward: the dB/dC partials take (D / block)·B·L·2N floats. */
    private static final int BACKWARD_CHANNEL_BLOCK = 32;

    private static final VectorSpecies<Float> LANES = FloatVector.SPECIES_PREFERRED;

    private SelectiveScan() {
    }

    /**
     * One step of the recurrence for one channel: dst[dOff + i] = e[eOff + i]·src[sOff + i] + (Δ·B_i)·x for i < n
     * (dst may be src), e the channel's decays exp(Δ·a_i) ({@link #decays}). Vector lanes, then a scalar tail; the
     * forward and the backward's recomputation both call it, so they agree bit for bit.
     */
    static void advance(float[] dst, int dOff, float[] src, int sOff, float[] e, int eOff, float[] bc, int bRow,
                        float delta, float xv, int n) {
        int i = 0;
        for (int bound = LANES.loopBound(n); i < bound; i += LANES.length()) {
            FloatVector u = FloatVector.fromArray(LANES, bc, bRow + i).mul(delta).mul(xv);
            FloatVector.fromArray(LANES, e, eOff + i).mul(FloatVector.fromArray(LANES, src, sOff + i)).add(u)
                    .intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = e[eOff + i] * src[sOff + i] + (delta * bc[bRow + i]) * xv;
        }
    }

    /**
     * The decays of a step for a block of channels: dst[j·n + i] = exp(a[aOff + j·n + i]·Δ_j) for j < channels,
     * Δ_j = dt[dtOff + j] ({@link LaneExp}: the same bits however the JIT compiled it).
     */
    static void decays(float[] dst, float[] a, int aOff, float[] dt, int dtOff, int channels, int n) {
        LaneExp.exp(a, aOff, dt, dtOff, channels, n, dst, 0);
    }

    /**
     * Σ of {@code l} (a vector's lanes, stored) in a fixed pairwise tree ((l0 + l1) + (l2 + l3)) + ..., in place:
     * the Vector API's own {@code reduceLanes(ADD)} sums in an order that depends on how the JIT compiled the caller
     * (so its bits did), and a tree of lane shuffles was 3x slower here than these scalar adds. It takes the stored
     * lanes, not the vector, so no vector crosses a call the JIT may not inline.
     */
    static float sum(float[] l) {
        if (l.length == 16) { // 512-bit lanes, unrolled: the same tree without the stores
            return (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])))
                    + (((l[8] + l[9]) + (l[10] + l[11])) + ((l[12] + l[13]) + (l[14] + l[15])));
        }
        if (l.length == 8) { // 256-bit lanes
            return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
        }
        for (int h = 1; h < l.length; h <<= 1) {
            for (int i = 0; i + h < l.length; i += 2 * h) {
                l[i] += l[i + h];
            }
        }
        return l[0];
    }

    /** Gradients of the scan; null entries are not computed. Parameter gradients are summed over the batch (+=). */
    record Grads(float[] dx, float[] ddt, float[] dbc, float[] dz, float[] dA, float[] dSkip, float[] dhOffset,
                 float[] dyOffset, float[] dh0) {
    }

    // x: (B, L, D), dt: (B, L, D) (after softplus), a: (D, N) = -exp(A_log), bc: (B, L, ldbc) holding B_t at
    // [bOff, bOff+N) and C_t at [bOff+N, bOff+2N), dSkip: (D), z: (B, L, ldz) at zOff, state: (B, D, N) in/out,
    // hOffset: (D, N) or null, yOffset: (D) or null -> y: (B, L, D)
    static void forward(Parallel par, float[] y, float[] x, float[] dt, float[] a, float[] bc, int ldbc, int bOff,
                        float[] dSkip, float[] z, int ldz, int zOff, float[] state, float[] hOffset, float[] yOffset,
                        int batch, int len, int d, int n) {
        forward(par, y, x, dt, a, bc, ldbc, bOff, dSkip, z, ldz, zOff, state, hOffset, yOffset, null, 0, batch, len,
                d, n);
    }

    // as above, and checkpoints: (B, ceil(L/chunk), D, N) the state h_{k·chunk − 1} before step k·chunk, or null
    static void forward(Parallel par, float[] y, float[] x, float[] dt, float[] a, float[] bc, int ldbc, int bOff,
                        float[] dSkip, float[] z, int ldz, int zOff, float[] state, float[] hOffset, float[] yOffset,
                        float[] checkpoints, int chunk, int batch, int len, int d, int n) {
        forward(par, y, x, dt, a, bc, ldbc, bOff, dSkip, z, ldz, zOff, state, hOffset, yOffset, checkpoints, chunk, 0,
                batch, 0, len, d, n);
    }

    // as above, on sequences [first, first + rows) of the batch only, each from position start of its len slots (a
    // mixed-adapter batch: each run of rows with its own h' and y', the slots before start belong to another row's
    // longer prefix, neither read nor written); checkpoints only with start 0
    static void forward(Parallel par, float[] y, float[] x, float[] dt, float[] a, float[] bc, int ldbc, int bOff,
                        float[] dSkip, float[] z, int ldz, int zOff, float[] state, float[] hOffset, float[] yOffset,
                        float[] checkpoints, int chunk, int first, int rows, int start, int len, int d, int n) {
        if (checkpoints != null && start != 0) {
            throw new IllegalArgumentException("scan checkpoints are kept for whole sequences only, start " + start);
        }
        int blocks = (d + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
        int chunks = checkpoints == null ? 0 : (len + chunk - 1) / chunk;
        par.forEach(rows * blocks, task -> {
            int b = first + task / blocks;
            int c0 = (task % blocks) * CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + CHANNEL_BLOCK);
            int hBase = (b * d) * n;
            float[] e = new float[(c1 - c0) * n]; // a step's decays of the block's channels
            for (int t = start; t < len; t++) {
                if (checkpoints != null && t % chunk == 0) {
                    int ck = ((b * chunks + t / chunk) * d) * n;
                    System.arraycopy(state, hBase + c0 * n, checkpoints, ck + c0 * n, (c1 - c0) * n);
                }
                int m = b * len + t;
                int bRow = m * ldbc + bOff;
                int cRow = bRow + n;
                decays(e, a, c0 * n, dt, m * d + c0, c1 - c0, n);
                for (int c = c0; c < c1; c++) {
                    float delta = dt[m * d + c];
                    float xv = x[m * d + c];
                    int hc = hBase + c * n;
                    int ac = c * n;
                    advance(state, hc, state, hc, e, (c - c0) * n, bc, bRow, delta, xv, n);
                    float acc = 0f;
                    for (int i = 0; i < n; i++) {
                        acc += state[hc + i] * bc[cRow + i];
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

    // dy: (B, L, D), x, dt: (B, L, D), a: (D, N), bc: (B, L, ldbc) at bOff, dSkip: (D), z: (B, L, ldz) at zOff,
    // checkpoints: (B, ceil(L/chunk), D, N) from the forward, hOffset: (D, N) or null, yOffset: (D) or null
    // -> g.dx, g.ddt: (B, L, D) assigned; g.dbc: (B, L, ldbc) at bOff assigned; g.dz: (B, L, ldz) at zOff assigned;
    //    g.dA (w.r.t. a), g.dhOffset, g.dh0: (D, N) +=; g.dSkip, g.dyOffset: (D) += (each null when not wanted)
    //
    // with s_t = C_t·(h_t + h') + D·x_t + y', g_t = silu(z_t), ds = dy·g, and dh the gradient w.r.t. h_t:
    //   dz = dy·s·silu'(z);  dC += ds·(h_t + h');  dh += ds·C;  dx = ds·D + Σ dh·Δ·B;  dB = dh·Δ·x;
    //   dΔ = Σ dh·(B·x + a·e·h_{t-1}), e = exp(Δ·a);  da += dh·Δ·e·h_{t-1};  dh_{t-1} = dh·e
    static void backward(Parallel par, Grads g, float[] dy, float[] x, float[] dt, float[] a, float[] bc, int ldbc,
                         int bOff, float[] dSkip, float[] z, int ldz, int zOff, float[] checkpoints, int chunk,
                         float[] hOffset, float[] yOffset, int batch, int len, int d, int n) {
        int blocks = (d + BACKWARD_CHANNEL_BLOCK - 1) / BACKWARD_CHANNEL_BLOCK;
        int chunks = (len + chunk - 1) / chunk;
        int m = batch * len;
        // dB and dC sum over channels: one partial per channel block, reduced below
        float[] dbcPart = new float[Math.multiplyExact(Math.multiplyExact(blocks, m), 2 * n)];
        // parameter gradients sum over the batch: one partial per batch row (each (b, c) has one writer)
        float[] dAPart = g.dA == null ? null : new float[batch * d * n];
        float[] dhOffPart = g.dhOffset == null ? null : new float[batch * d * n];
        float[] dh0Part = g.dh0 == null ? null : new float[batch * d * n];
        float[] dSkipPart = g.dSkip == null ? null : new float[batch * d];
        float[] dyOffPart = g.dyOffset == null ? null : new float[batch * d];
        par.forEach(batch * blocks, task -> {
            int b = task / blocks;
            int blk = task % blocks;
            int c0 = blk * BACKWARD_CHANNEL_BLOCK;
            int c1 = Math.min(d, c0 + BACKWARD_CHANNEL_BLOCK);
            int cn = (c1 - c0) * n;
            float[] hs = new float[(chunk + 1) * cn]; // h_{t0-1} .. h_{t1-1} of the chunk being swept
            float[] dh = new float[cn];
            float[] e = new float[cn]; // a step's decays of the block's channels
            float[] lanes = new float[LANES.length()];
            int pb = (blk * m) * 2 * n;
            for (int k = chunks - 1; k >= 0; k--) {
                int t0 = k * chunk;
                int t1 = Math.min(len, t0 + chunk);
                System.arraycopy(checkpoints, ((b * chunks + k) * d + c0) * n, hs, 0, cn);
                for (int t = t0; t < t1; t++) {
                    int mm = b * len + t;
                    int bRow = mm * ldbc + bOff;
                    int prev = (t - t0) * cn;
                    int cur = prev + cn;
                    decays(e, a, c0 * n, dt, mm * d + c0, c1 - c0, n);
                    for (int c = c0; c < c1; c++) {
                        float delta = dt[mm * d + c];
                        float xv = x[mm * d + c];
                        int hc = (c - c0) * n;
                        advance(hs, cur + hc, hs, prev + hc, e, hc, bc, bRow, delta, xv, n);
                    }
                }
                for (int t = t1 - 1; t >= t0; t--) {
                    int mm = b * len + t;
                    int bRow = mm * ldbc + bOff;
                    int cRow = bRow + n;
                    int prev = (t - t0) * cn;
                    int cur = prev + cn;
                    int pRow = pb + mm * 2 * n;
                    decays(e, a, c0 * n, dt, mm * d + c0, c1 - c0, n);
                    for (int c = c0; c < c1; c++) {
                        float delta = dt[mm * d + c];
                        float xv = x[mm * d + c];
                        float zv = z[mm * ldz + zOff + c];
                        int hc = (c - c0) * n;
                        int ac = c * n;
                        float acc = 0f;
                        for (int i = 0; i < n; i++) {
                            acc += hs[cur + hc + i] * bc[cRow + i];
                        }
                        if (hOffset != null) {
                            for (int i = 0; i < n; i++) {
                                acc += hOffset[ac + i] * bc[cRow + i];
                            }
                        }
                        float s = acc + dSkip[c] * xv;
                        if (yOffset != null) {
                            s += yOffset[c];
                        }
                        float dyv = dy[mm * d + c];
                        g.dz[mm * ldz + zOff + c] = dyv * s * Activations.siluGrad(zv);
                        float ds = dyv * Activations.silu(zv);
                        if (dSkipPart != null) {
                            dSkipPart[b * d + c] += ds * xv;
                        }
                        if (dyOffPart != null) {
                            dyOffPart[b * d + c] += ds;
                        }
                        float dxv = ds * dSkip[c];
                        float ddt = 0f;
                        int pc = (b * d + c) * n;
                        // the same per-element products in vector lanes; dx and dΔ sum their lanes at the end (another
                        // order than the scalar tail's)
                        FloatVector vdx = FloatVector.zero(LANES);
                        FloatVector vddt = FloatVector.zero(LANES);
                        int i0 = 0;
                        for (int bound = LANES.loopBound(n); i0 < bound; i0 += LANES.length()) {
                            FloatVector ci = FloatVector.fromArray(LANES, bc, cRow + i0);
                            FloatVector bi = FloatVector.fromArray(LANES, bc, bRow + i0);
                            FloatVector hPrev = FloatVector.fromArray(LANES, hs, prev + hc + i0);
                            FloatVector dhi = FloatVector.fromArray(LANES, dh, hc + i0).add(ci.mul(ds));
                            FloatVector hRead = FloatVector.fromArray(LANES, hs, cur + hc + i0);
                            if (hOffset != null) {
                                hRead = hRead.add(FloatVector.fromArray(LANES, hOffset, ac + i0));
                            }
                            FloatVector.fromArray(LANES, dbcPart, pRow + n + i0).add(hRead.mul(ds))
                                    .intoArray(dbcPart, pRow + n + i0);
                            if (dhOffPart != null) {
                                FloatVector.fromArray(LANES, dhOffPart, pc + i0).add(ci.mul(ds))
                                        .intoArray(dhOffPart, pc + i0);
                            }
                            FloatVector ei = FloatVector.fromArray(LANES, e, hc + i0);
                            vdx = vdx.add(dhi.mul(delta).mul(bi));
                            FloatVector.fromArray(LANES, dbcPart, pRow + i0).add(dhi.mul(delta).mul(xv))
                                    .intoArray(dbcPart, pRow + i0);
                            vddt = vddt.add(dhi.mul(bi.mul(xv).add(FloatVector.fromArray(LANES, a, ac + i0).mul(ei)
                                    .mul(hPrev))));
                            if (dAPart != null) {
                                FloatVector.fromArray(LANES, dAPart, pc + i0).add(dhi.mul(delta).mul(ei).mul(hPrev))
                                        .intoArray(dAPart, pc + i0);
                            }
                            dhi.mul(ei).intoArray(dh, hc + i0);
                        }
                        vdx.intoArray(lanes, 0);
                        dxv += sum(lanes);
                        vddt.intoArray(lanes, 0);
                        ddt += sum(lanes);
                        for (int i = i0; i < n; i++) {
                            float ci = bc[cRow + i];
                            float bi = bc[bRow + i];
                            float hPrev = hs[prev + hc + i];
                            float dhi = dh[hc + i] + ds * ci;
                            float hRead = hOffset == null ? hs[cur + hc + i] : hs[cur + hc + i] + hOffset[ac + i];
                            dbcPart[pRow + n + i] += ds * hRead;
                            if (dhOffPart != null) {
                                dhOffPart[pc + i] += ds * ci;
                            }
                            dxv += dhi * delta * bi;
                            dbcPart[pRow + i] += dhi * delta * xv;
                            ddt += dhi * (bi * xv + a[ac + i] * e[hc + i] * hPrev);
                            if (dAPart != null) {
                                dAPart[pc + i] += dhi * delta * e[hc + i] * hPrev;
                            }
                            dh[hc + i] = dhi * e[hc + i];
                        }
                        g.dx[mm * d + c] = dxv;
                        g.ddt[mm * d + c] = ddt;
                    }
                }
            }
            if (dh0Part != null) {
                System.arraycopy(dh, 0, dh0Part, (b * d + c0) * n, cn);
            }
        });
        par.forRange(m, (long) blocks * 2 * n, 1 << 14, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                for (int i = 0; i < 2 * n; i++) {
                    float acc = 0f;
                    for (int blk = 0; blk < blocks; blk++) {
                        acc += dbcPart[(blk * m + r) * 2 * n + i];
                    }
                    g.dbc[r * ldbc + bOff + i] = acc;
                }
            }
        });
        sumOverBatch(g.dA, dAPart, batch);
        sumOverBatch(g.dhOffset, dhOffPart, batch);
        sumOverBatch(g.dh0, dh0Part, batch);
        sumOverBatch(g.dSkip, dSkipPart, batch);
        sumOverBatch(g.dyOffset, dyOffPart, batch);
    }

    private static void sumOverBatch(float[] target, float[] parts, int batch) {
        if (target == null) {
            return;
        }
        int size = target.length;
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < size; i++) {
                target[i] += parts[b * size + i];
            }
        }
    }
}
