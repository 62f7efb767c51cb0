package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.cuda.model.HostMemory.View;
import org.ssmpeft.runtime.cuda.scan.ScanLayout;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;

/**
 * {@link SelectiveScanKernels}' contract in plain Java on {@link HostMemory}: the formulas of
 * {@code kernels/selective_scan.cu}'s header, sequential per (batch row, channel), the extension's n' states in the
 * same recurrence as the base N; checkpoints in the kernels' layout (B, ceil(L/TT), D, N + n'), the backward
 * recomputing a tile's states from its checkpoint. Outputs the contract says are assigned are assigned, the others
 * added to.
 */
final class HostScan implements ScanOps {

    private final HostMemory mem;

    HostScan(HostMemory mem) {
        this.mem = mem;
    }

    @Override
    public long checkpointFloats(ScanShape s) {
        return SelectiveScanKernels.checkpointFloats(s);
    }

    @Override
    public long workFloats(ScanShape s) {
        return 1;
    }

    // (Δ, A, B, u) of state n of channel c at row m: the base N states, then the extension's n'
    private record Step(View x, View dt, View negA, View bc, int ldbc, int bOff, View ext, int ldExt, View extNegA,
                        int d, int nb, int ne) {
        float a(int c, int n) {
            return n < nb ? negA.get((long) c * nb + n) : extNegA.get((long) c * ne + n - nb);
        }

        float b(long m, int n) {
            return n < nb ? bc.get(m * ldbc + bOff + n) : ext.get(m * ldExt + n - nb);
        }

        float cRead(long m, int n) {
            return n < nb ? bc.get(m * ldbc + bOff + nb + n) : ext.get(m * ldExt + ne + n - nb);
        }
    }

    // the step's operands of batch row b: with hookRows, row b's A' (B, D, n') at b's place
    private Step step(ScanShape s, ScanOperands o, int b) {
        return new Step(mem.view(o.x()), mem.view(o.dt()), mem.view(o.negA()), mem.view(o.bc()), o.ldbc(),
                o.bOffset(), mem.viewOrNull(o.ext()), o.ldExt(), rowView(o.extNegA(), o, b,
                (long) s.channels() * s.extStates()), s.channels(), s.states(), s.extStates());
    }

    // a hook's view for batch row b: row b's {@code size} floats with hookRows, else the shared ones; null if absent
    private View rowView(long address, ScanOperands o, int b, long size) {
        return address == 0 ? null : mem.view(o.hookRows() ? address + 4L * b * size : address);
    }

    @Override
    public void forward(ScanShape s, ScanOperands o, long state, long extState, long checkpoints, long y) {
        int batch = s.batch();
        int len = s.len();
        int d = s.channels();
        int nb = s.states();
        int ne = s.extStates();
        int nt = nb + ne;
        int tt = ScanLayout.tileFor(nt);
        int chunks = (len + tt - 1) / tt;
        View sv = mem.viewOrNull(state);
        View ev = mem.viewOrNull(extState);
        View ck = mem.viewOrNull(checkpoints);
        View skip = mem.viewOrNull(o.dSkip());
        View z = mem.viewOrNull(o.z());
        View yv = mem.view(y);
        for (int b = 0; b < batch; b++) {
            Step st = step(s, o, b);
            View ho = rowView(o.hOffset(), o, b, (long) d * nb);
            View yo = rowView(o.yOffset(), o, b, d);
            for (int c = 0; c < d; c++) {
                float[] h = new float[nt];
                for (int n = 0; n < nt; n++) {
                    View from = n < nb ? sv : ev;
                    long at = n < nb ? ((long) b * d + c) * nb + n : ((long) b * d + c) * ne + n - nb;
                    h[n] = from == null ? 0f : from.get(at);
                }
                for (int t = 0; t < len; t++) {
                    if (ck != null && t % tt == 0) {
                        for (int n = 0; n < nt; n++) {
                            ck.set((((long) b * chunks + t / tt) * d + c) * nt + n, h[n]);
                        }
                    }
                    long m = (long) b * len + t;
                    float delta = st.dt.get(m * d + c);
                    float u = st.x.get(m * d + c);
                    float acc = 0f;
                    for (int n = 0; n < nt; n++) {
                        h[n] = (float) Math.exp(delta * st.a(c, n)) * h[n] + (delta * u) * st.b(m, n);
                        acc += h[n] * st.cRead(m, n);
                    }
                    if (ho != null) {
                        for (int n = 0; n < nb; n++) {
                            acc += ho.get((long) c * nb + n) * st.cRead(m, n);
                        }
                    }
                    float out = acc + (skip == null ? 0f : skip.get(c)) * u + (yo == null ? 0f : yo.get(c));
                    if (z != null) {
                        out *= HostLayers.silu(z.get(m * o.ldz() + o.zOffset() + c));
                    }
                    yv.set(m * d + c, out);
                }
                for (int n = 0; n < nt; n++) {
                    View to = n < nb ? sv : ev;
                    long at = n < nb ? ((long) b * d + c) * nb + n : ((long) b * d + c) * ne + n - nb;
                    if (to != null) {
                        to.set(at, h[n]);
                    }
                }
            }
        }
    }

    @Override
    public void backward(ScanShape s, ScanOperands o, long checkpoints, long dy, SelectiveScanKernels.Gradients g,
                         long work) {
        mem.view(work);
        if (o.hookRows()) {
            throw new IllegalArgumentException("the scan backward takes hooks shared by the batch rows");
        }
        int batch = s.batch();
        int len = s.len();
        int d = s.channels();
        int nb = s.states();
        int ne = s.extStates();
        int nt = nb + ne;
        int tt = ScanLayout.tileFor(nt);
        int chunks = (len + tt - 1) / tt;
        Step st = step(s, o, 0);
        View ck = mem.view(checkpoints);
        View skip = mem.viewOrNull(o.dSkip());
        View z = mem.viewOrNull(o.z());
        View ho = mem.viewOrNull(o.hOffset());
        View yo = mem.viewOrNull(o.yOffset());
        View dyv = mem.view(dy);
        View dx = mem.view(g.dx());
        View ddt = mem.view(g.dDt());
        View dz = mem.viewOrNull(g.dz());
        View dBc = mem.viewOrNull(g.dBc());
        View dExt = mem.viewOrNull(g.dExt());
        View dNegA = mem.viewOrNull(g.dNegA());
        View dExtNegA = mem.viewOrNull(g.dExtNegA());
        View dSkip = mem.viewOrNull(g.dSkip());
        View dHo = mem.viewOrNull(g.dHOffset());
        View dYo = mem.viewOrNull(g.dYOffset());
        View dH0 = mem.viewOrNull(g.dH0());
        View dExtH0 = mem.viewOrNull(g.dExtH0());
        long rows = (long) batch * len;
        float[] dbcSum = new float[Math.toIntExact(rows * 2 * nt)]; // (m, [dB | dC] over nt), summed over channels
        float[] dA = new float[d * nt];
        float[] dHoSum = new float[d * nb];
        float[] dSkipSum = new float[d];
        float[] dYoSum = new float[d];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < d; c++) {
                float[] gh = new float[nt]; // the adjoint carried into step t from t + 1 (times e_{t+1})
                float[][] hs = new float[tt + 1][nt];
                for (int k = chunks - 1; k >= 0; k--) {
                    int t0 = k * tt;
                    int t1 = Math.min(len, t0 + tt);
                    for (int n = 0; n < nt; n++) {
                        hs[0][n] = ck.get((((long) b * chunks + k) * d + c) * nt + n);
                    }
                    for (int t = t0; t < t1; t++) {
                        long m = (long) b * len + t;
                        float delta = st.dt.get(m * d + c);
                        float u = st.x.get(m * d + c);
                        for (int n = 0; n < nt; n++) {
                            hs[t - t0 + 1][n] = (float) Math.exp(delta * st.a(c, n)) * hs[t - t0][n]
                                    + (delta * u) * st.b(m, n);
                        }
                    }
                    for (int t = t1 - 1; t >= t0; t--) {
                        long m = (long) b * len + t;
                        float delta = st.dt.get(m * d + c);
                        float u = st.x.get(m * d + c);
                        float[] hPrev = hs[t - t0];
                        float[] hCur = hs[t - t0 + 1];
                        float acc = 0f;
                        for (int n = 0; n < nt; n++) {
                            acc += hCur[n] * st.cRead(m, n);
                        }
                        if (ho != null) {
                            for (int n = 0; n < nb; n++) {
                                acc += ho.get((long) c * nb + n) * st.cRead(m, n);
                            }
                        }
                        float sv = acc + (skip == null ? 0f : skip.get(c)) * u + (yo == null ? 0f : yo.get(c));
                        float dyv0 = dyv.get(m * d + c);
                        float ds = dyv0;
                        if (z != null) {
                            float zv = z.get(m * o.ldz() + o.zOffset() + c);
                            if (dz != null) {
                                dz.set(m * o.ldz() + o.zOffset() + c, dyv0 * sv * HostLayers.siluGrad(zv));
                            }
                            ds = dyv0 * HostLayers.silu(zv);
                        }
                        dSkipSum[c] += ds * u;
                        dYoSum[c] += ds;
                        float dxv = ds * (skip == null ? 0f : skip.get(c));
                        float ddtv = 0f;
                        for (int n = 0; n < nt; n++) {
                            float cn = st.cRead(m, n);
                            float bn = st.b(m, n);
                            float a = st.a(c, n);
                            float gi = gh[n] + ds * cn;
                            float hRead = hCur[n] + (ho != null && n < nb ? ho.get((long) c * nb + n) : 0f);
                            dbcSum[Math.toIntExact(m * 2 * nt + nt + n)] += ds * hRead;
                            if (n < nb) {
                                dHoSum[c * nb + n] += ds * cn;
                            }
                            float e = (float) Math.exp(delta * a);
                            dxv += gi * delta * bn;
                            dbcSum[Math.toIntExact(m * 2 * nt + n)] += gi * delta * u;
                            ddtv += gi * (bn * u + a * e * hPrev[n]);
                            dA[c * nt + n] += gi * delta * e * hPrev[n];
                            gh[n] = gi * e;
                        }
                        dx.set(m * d + c, dxv);
                        ddt.set(m * d + c, ddtv);
                    }
                }
                for (int n = 0; n < nt; n++) {
                    if (n < nb && dH0 != null) {
                        dH0.set(((long) b * d + c) * nb + n, gh[n]);
                    } else if (n >= nb && dExtH0 != null) {
                        dExtH0.set(((long) b * d + c) * ne + n - nb, gh[n]);
                    }
                }
            }
        }
        for (long m = 0; m < rows; m++) {
            for (int w = 0; w < 2; w++) {
                for (int n = 0; n < nt; n++) {
                    float v = dbcSum[Math.toIntExact(m * 2 * nt + w * nt + n)];
                    if (n < nb) {
                        if (dBc != null) {
                            dBc.set(m * o.ldbc() + o.bOffset() + w * nb + n, v);
                        }
                    } else if (dExt != null) {
                        dExt.set(m * o.ldExt() + w * ne + n - nb, v);
                    }
                }
            }
        }
        for (int c = 0; c < d; c++) {
            for (int n = 0; n < nt; n++) {
                if (n < nb) {
                    if (dNegA != null) {
                        dNegA.add((long) c * nb + n, dA[c * nt + n]);
                    }
                    if (dHo != null) {
                        dHo.add((long) c * nb + n, dHoSum[c * nb + n]);
                    }
                } else if (dExtNegA != null) {
                    dExtNegA.add((long) c * ne + n - nb, dA[c * nt + n]);
                }
            }
            if (dSkip != null) {
                dSkip.add(c, dSkipSum[c]);
            }
            if (dYo != null) {
                dYo.add(c, dYoSum[c]);
            }
        }
    }

    @Override
    public void stepDelta(ScanShape s, ScanOperands o, long dtWeight, long dtBias, int rank, long state,
                          long extState, long y) {
        int batch = s.batch();
        int d = s.channels();
        HostMemory.View xdbl = mem.view(o.bc());
        // Δ as the general path's fused dtSoftplus computes it (HostLayers), then the step
        HostMemory.View dt = mem.view(o.dt());
        HostMemory.View w = mem.view(dtWeight);
        HostMemory.View bias = mem.viewOrNull(dtBias);
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < d; c++) {
                float acc = 0f;
                for (int k = 0; k < rank; k++) {
                    acc = acc + xdbl.get((long) b * o.ldbc() + k) * w.get((long) c * rank + k);
                }
                if (bias != null) {
                    acc = acc + bias.get(c);
                }
                dt.set((long) b * d + c, HostLayers.softplus(acc));
            }
        }
        step(s, o, state, extState, y);
    }

    @Override
    public void step(ScanShape s, ScanOperands o, long state, long extState, long y) {
        if (s.len() != 1) {
            throw new IllegalArgumentException("a decoding step has length 1, found " + s.len());
        }
        forward(s, o, state, extState, 0, y);
    }
}
