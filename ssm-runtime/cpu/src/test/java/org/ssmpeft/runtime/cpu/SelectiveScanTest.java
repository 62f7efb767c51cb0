package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The selective scan on its own, for state widths N that take the vector lanes only, the scalar tail only, and both
 * (the lanes are the machine's preferred vector: 8 or 16 floats), with and without the offsets: the forward against
 * the recurrence in double, and every input's gradient against central differences of L = Σ dy·y in double around
 * the float forward (a directional derivative per input tensor).
 */
class SelectiveScanTest {

    private static final int LANES = FloatVector.SPECIES_PREFERRED.length();
    private static final Parallel PAR = new Parallel(new ForkJoinPool(2));

    /** One case's inputs: B 2, L 7 (checkpoint chunk 3: a partial last chunk), D 3. */
    private static final class Case {
        final int batch = 2;
        final int len = 7;
        final int d = 3;
        final int n;
        final int chunk = 3;
        final int ldbc;
        final float[] x;
        final float[] dt;
        final float[] a;
        final float[] bc;
        final float[] skip;
        final float[] z;
        final float[] hOffset;
        final float[] yOffset;
        final float[] dy;

        Case(int n, boolean offsets, long seed) {
            this.n = n;
            this.ldbc = 2 * n + 1; // a padded row
            Random r = new Random(seed);
            int m = batch * len;
            x = random(r, m * d, 1);
            dt = random(r, m * d, 0);
            for (int i = 0; i < dt.length; i++) {
                dt[i] = 0.05f + 0.5f * Math.abs(dt[i]); // Δ > 0, as after softplus
            }
            a = random(r, d * n, 0);
            for (int i = 0; i < a.length; i++) {
                a[i] = -0.2f - Math.abs(a[i]); // A < 0
            }
            bc = random(r, m * ldbc, 1);
            skip = random(r, d, 1);
            z = random(r, m * d, 1);
            hOffset = offsets ? random(r, d * n, 0.5f) : null;
            yOffset = offsets ? random(r, d, 0.5f) : null;
            dy = random(r, m * d, 1);
        }

        int checkpointFloats() {
            return batch * ((len + chunk - 1) / chunk) * d * n;
        }

        float[] forward(float[] checkpoints) {
            float[] y = new float[batch * len * d];
            SelectiveScan.forward(PAR, y, x, dt, a, bc, ldbc, 0, skip, z, d, 0, new float[batch * d * n], hOffset,
                    yOffset, checkpoints, chunk, batch, len, d, n);
            return y;
        }

        double loss() {
            float[] y = forward(null);
            double l = 0;
            for (int i = 0; i < y.length; i++) {
                l += (double) dy[i] * y[i];
            }
            return l;
        }
    }

    private static float[] random(Random r, int size, float scale) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (r.nextGaussian() * (scale == 0 ? 1 : scale));
        }
        return v;
    }

    static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    @ParameterizedTest(name = "N {0}, offsets {1}")
    @CsvSource({"4, false", "16, false", "16, true", "20, true", "37, false"})
    void theForwardIsTheRecurrenceAndEveryGradientItsDerivative(int n, boolean offsets) {
        Case c = new Case(n, offsets, 31L * n + (offsets ? 1 : 0));
        // forward against the recurrence in double
        float[] y = c.forward(null);
        double worst = 0;
        for (int b = 0; b < c.batch; b++) {
            double[] h = new double[c.d * n];
            for (int t = 0; t < c.len; t++) {
                int m = b * c.len + t;
                for (int ch = 0; ch < c.d; ch++) {
                    double delta = c.dt[m * c.d + ch];
                    double xv = c.x[m * c.d + ch];
                    double s = c.skip[ch] * xv + (offsets ? c.yOffset[ch] : 0);
                    for (int i = 0; i < n; i++) {
                        h[ch * n + i] = Math.exp(delta * c.a[ch * n + i]) * h[ch * n + i]
                                + delta * c.bc[m * c.ldbc + i] * xv;
                        s += c.bc[m * c.ldbc + n + i] * (h[ch * n + i] + (offsets ? c.hOffset[ch * n + i] : 0));
                    }
                    double want = s * silu(c.z[m * c.d + ch]);
                    worst = Math.max(worst, Math.abs(y[m * c.d + ch] - want) / Math.max(1, Math.abs(want)));
                }
            }
        }
        assertThat(worst).as("forward against the recurrence in double, N %d (%d lanes)", n, LANES)
                .isLessThan(2e-5);

        // backward against central differences, one random direction per input
        var g = new SelectiveScan.Grads(new float[c.x.length], new float[c.dt.length], new float[c.bc.length],
                new float[c.z.length], new float[c.a.length], new float[c.d], offsets ? new float[c.d * n] : null,
                offsets ? new float[c.d] : null, null);
        float[] checkpoints = new float[c.checkpointFloats()];
        c.forward(checkpoints);
        SelectiveScan.backward(PAR, g, c.dy, c.x, c.dt, c.a, c.bc, c.ldbc, 0, c.skip, c.z, c.d, 0, checkpoints,
                c.chunk, c.hOffset, c.yOffset, c.batch, c.len, c.d, n);
        Random r = new Random(7L * n);
        check("x", c.x, g.dx(), c, r);
        check("dt", c.dt, g.ddt(), c, r);
        check("a", c.a, g.dA(), c, r);
        check("B and C", c.bc, g.dbc(), c, r);
        check("z", c.z, g.dz(), c, r);
        check("D", c.skip, g.dSkip(), c, r);
        if (offsets) {
            check("h'", c.hOffset, g.dhOffset(), c, r);
            check("y'", c.yOffset, g.dyOffset(), c, r);
        }
    }

    // ⟨grad, v⟩ against (L(p + εv) − L(p − εv)) / 2ε, p perturbed in place and restored
    private static void check(String what, float[] p, float[] grad, Case c, Random r) {
        float[] v = random(r, p.length, 1);
        float[] saved = p.clone();
        double eps = 2e-3; // small against Δ (0.05 and up), large against the float forward's noise
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (saved[i] + eps * v[i]);
        }
        double plus = c.loss();
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (saved[i] - eps * v[i]);
        }
        double minus = c.loss();
        System.arraycopy(saved, 0, p, 0, p.length);
        double numeric = (plus - minus) / (2 * eps);
        double analytic = 0;
        for (int i = 0; i < p.length; i++) {
            analytic += (double) grad[i] * v[i];
        }
        assertThat(Math.abs(analytic - numeric)).as("d%s: analytic %s, central difference %s (N %d)", what,
                analytic, numeric, c.n).isLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
    }
}
