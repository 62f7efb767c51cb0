package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ssmpeft.runtime.cuda.SsdCase.Hooks;
import org.ssmpeft.runtime.cuda.SsdCase.Layout;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;
import org.ssmpeft.runtime.cuda.ssd.SsdShape;

/**
 * The reference {@link SsdKernelTest} holds the GPU to ({@link SsdCase#cpu}: the cpu backend's chunked scan in
 * float32, its xbc repacked from the case's layout, the z gate and its adjoint applied here) equals the plain
 * recurrence, step by step in double precision with its hand-written adjoint:
 * <pre>
 *   h_t = exp(Δ_t·a)·h_{t-1} + Δ_t·x_t ⊗ B_t      y_t = (h_t·C_t + D·x_t + h'·C_t + y')·silu(z_t)
 * </pre>
 * within 1e-5 relative per tensor (float32 rounding of the chunked form). Runs without a GPU.
 */
class SsdReferenceTest {

    static final double TOLERANCE = 1e-5;

    static List<SsdCase> cases() {
        var f = Precision.FLOAT32;
        return List.of(
                new SsdCase(new SsdShape(1, 1, 1, 1, 1, 1, 1), Hooks.all(), Layout.ODD, f, 1),
                new SsdCase(new SsdShape(2, 37, 4, 5, 2, 6, 8), Hooks.all(), Layout.ODD, f, 2),
                new SsdCase(new SsdShape(2, 50, 2, 8, 1, 16, 64), Hooks.all(), Layout.WIDE, f, 3),
                new SsdCase(new SsdShape(1, 70, 6, 3, 3, 4, 16), Hooks.block(), Layout.PACKED, f, 4),
                new SsdCase(new SsdShape(3, 20, 2, 4, 2, 3, 1), new Hooks(true, false, true, false, true),
                        Layout.ODD, f, 5),
                new SsdCase(new SsdShape(2, 90, 4, 16, 2, 32, 32), Hooks.all(), Layout.PACKED, Precision.BF16, 6));
    }

    @TestFactory
    Stream<DynamicTest> theReferenceEqualsTheRecurrenceInDoublePrecision() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> {
            SsdCase.Result want = exact(c);
            SsdCase.Result got = c.cpu(true);
            Map<String, Double> e = new LinkedHashMap<>();
            e.put("y", ScanCase.relError(got.y, want.y));
            e.put("state", ScanCase.relError(got.state, want.state));
            e.put("dx", ScanCase.relError(got.dx, want.dx));
            e.put("dB", ScanCase.relError(got.dB, want.dB));
            e.put("dC", ScanCase.relError(got.dC, want.dC));
            e.put("ddt", ScanCase.relError(got.ddt, want.ddt));
            if (c.hooks.gate()) {
                e.put("dz", ScanCase.relError(got.dz, want.dz));
            }
            e.put("dA", ScanCase.relError(got.dA, want.dA));
            if (c.hooks.skip()) {
                e.put("dD", ScanCase.relError(got.dSkip, want.dSkip));
            }
            if (c.hooks.hOffset()) {
                e.put("dh'", ScanCase.relError(got.dhOff, want.dhOff));
            }
            if (c.hooks.yOffset()) {
                e.put("dy'", ScanCase.relError(got.dyOff, want.dyOff));
            }
            if (c.hooks.h0()) {
                e.put("dh0", ScanCase.relError(got.dh0, want.dh0));
            }
            System.out.println("ssd reference " + c + ": " + e);
            for (var entry : e.entrySet()) {
                assertThat(entry.getValue()).as(c + " " + entry.getKey()).isLessThanOrEqualTo(TOLERANCE);
            }
        }));
    }

    /**
     * The recurrence and its adjoint in double, one time step at a time, reading the case's own layouts; the
     * accumulated gradients start at {@link SsdCase#GRAD_START} as the reference's do. Per (row, head), with e_t =
     * exp(Δ_t·a), going back in time with dH = dL/dh_t:
     * <pre>
     *   dH += dy_t ⊗ C_t;  dC_t += (h_t + h')ᵀ·dy_t;  dx_t += D·dy_t + Δ_t·dH·B_t;  dB_t += Δ_t·dHᵀ·x_t
     *   g = ⟨dH, h_{t-1}⟩;  dΔ_t = x_t·dH·B_t + a·e_t·g;  da += Δ_t·e_t·g;  dH ← e_t·dH        (dh0 = the last dH)
     * </pre>
     * where dy is the gradient through the gate.
     */
    static SsdCase.Result exact(SsdCase c) {
        int p = c.p, n = c.n, d = c.d, hs = p * n;
        double[] y = new double[c.m * d], state = new double[c.h0.length], dx = new double[c.m * d];
        double[] dB = new double[c.m * c.gn], dC = new double[c.m * c.gn], ddt = new double[c.m * c.heads];
        double[] dz = new double[c.m * d], dA = filled(c.heads), dSkip = filled(c.heads);
        double[] dhOff = filled(c.heads * hs), dyOff = filled(d), dh0 = new double[c.h0.length];
        double[][] hist = new double[c.l + 1][hs];
        double[] dyS = new double[p];
        for (int b = 0; b < c.b; b++) {
            for (int h = 0; h < c.heads; h++) {
                int grp = h / (c.heads / c.g);
                int s0 = (b * c.heads + h) * hs;
                for (int i = 0; i < hs; i++) {
                    hist[0][i] = c.h0[s0 + i];
                }
                for (int t = 0; t < c.l; t++) {
                    int row = b * c.l + t;
                    double delta = c.dt[row * c.heads + h];
                    double e = Math.exp(delta * c.negA[h]);
                    for (int pp = 0; pp < p; pp++) {
                        double xv = c.xbc[row * c.ldx + h * p + pp];
                        double out = c.skip[h] * xv + (c.yOff == null ? 0 : c.yOff[h * p + pp]);
                        for (int k = 0; k < n; k++) {
                            double bv = c.xbc[row * c.ldx + c.bOff + grp * n + k];
                            double cv = c.xbc[row * c.ldx + c.cOff + grp * n + k];
                            double hv = e * hist[t][pp * n + k] + delta * xv * bv;
                            hist[t + 1][pp * n + k] = hv;
                            out += (hv + (c.hOff == null ? 0 : c.hOff[h * hs + pp * n + k])) * cv;
                        }
                        y[row * d + h * p + pp] = out;
                    }
                }
                for (int i = 0; i < hs; i++) {
                    state[s0 + i] = hist[c.l][i];
                }
                double[] dH = new double[hs];
                for (int t = c.l - 1; t >= 0; t--) {
                    int row = b * c.l + t;
                    double delta = c.dt[row * c.heads + h];
                    double e = Math.exp(delta * c.negA[h]);
                    for (int pp = 0; pp < p; pp++) {
                        int i = row * d + h * p + pp;
                        double dyv = c.dy[i];
                        if (c.hooks.gate()) {
                            double zv = c.z[row * c.ldz + c.zOff + h * p + pp];
                            double sig = 1 / (1 + Math.exp(-zv));
                            dz[i] = dyv * y[i] * sig * (1 + zv * (1 - sig));
                            dyv *= zv * sig;
                        }
                        dyS[pp] = dyv;
                    }
                    double g = 0, xdhb = 0;
                    for (int pp = 0; pp < p; pp++) {
                        double xv = c.xbc[row * c.ldx + h * p + pp];
                        dSkip[h] += dyS[pp] * xv;
                        dyOff[h * p + pp] += dyS[pp];
                        double dhb = 0;
                        for (int k = 0; k < n; k++) {
                            int bi = row * c.ldx + c.bOff + grp * n + k;
                            double cv = c.xbc[row * c.ldx + c.cOff + grp * n + k];
                            int j = pp * n + k;
                            dH[j] += dyS[pp] * cv;
                            dC[row * c.gn + grp * n + k] += dyS[pp] * (hist[t + 1][j]
                                    + (c.hOff == null ? 0 : c.hOff[h * hs + j]));
                            dhOff[h * hs + j] += dyS[pp] * cv;
                            dhb += dH[j] * c.xbc[bi];
                            dB[row * c.gn + grp * n + k] += delta * dH[j] * xv;
                            g += dH[j] * hist[t][j];
                        }
                        dx[row * d + h * p + pp] += c.skip[h] * dyS[pp] + delta * dhb;
                        xdhb += xv * dhb;
                    }
                    ddt[row * c.heads + h] = xdhb + c.negA[h] * e * g;
                    dA[h] += delta * e * g;
                    for (int j = 0; j < hs; j++) {
                        dH[j] *= e;
                    }
                }
                System.arraycopy(dH, 0, dh0, s0, hs);
            }
        }
        SsdCase.Result o = new SsdCase.Result();
        if (c.hooks.gate()) {
            for (int r = 0; r < c.m; r++) {
                for (int j = 0; j < d; j++) {
                    double zv = c.z[r * c.ldz + c.zOff + j];
                    y[r * d + j] *= zv / (1 + Math.exp(-zv));
                }
            }
            o.dz = floats(dz);
        }
        o.y = floats(y);
        o.state = floats(state);
        o.dx = floats(dx);
        o.dB = floats(dB);
        o.dC = floats(dC);
        o.ddt = floats(ddt);
        o.dA = floats(dA);
        o.dSkip = floats(dSkip);
        o.dhOff = floats(dhOff);
        o.dyOff = floats(dyOff);
        o.dh0 = floats(dh0);
        return o;
    }

    private static double[] filled(int count) {
        double[] v = new double[count];
        java.util.Arrays.fill(v, SsdCase.GRAD_START);
        return v;
    }

    private static float[] floats(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }
}
