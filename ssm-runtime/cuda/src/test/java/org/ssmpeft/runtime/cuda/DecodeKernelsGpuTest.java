package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.layers.DecodeKernels;
import org.ssmpeft.runtime.cuda.layers.DeviceLinear;
import org.ssmpeft.runtime.cuda.layers.LayerKernels;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;

/**
 * The fused decode step ({@link DecodeKernels} and {@link SelectiveScanKernels#stepDelta}) launch by launch against
 * the general path's launches on the same inputs: a whole Mamba block's step (RMSNorm + in_proj, conv + x_proj's
 * partials summed by the last block, Δ + the scan step, out_proj into the residual) on seeded random weights, 1 to
 * 16 rows, the Mamba-130M widths and small odd ones, with and without biases, gate, skip, h' and y' (shared, or one
 * per row); and the two-launch ranking against the one-block ranking.
 * <p>Bounds: where the arithmetic is the same code the results must be equal bit for bit (the conv and its state,
 * the partials' block-order sum, the scan step's y and state given the fused launch's own Δ and (B, C)); the
 * products against cuBLAS within 1e-5·sqrt(K)·max|b| (another summation order), RMSNorm's rows within 1e-6·max|b|
 * (its sum of squares in another order, in double), Δ within 1e-5·max|b|. Every output starts as NaN.
 */
@Tag("gpu")
class DecodeKernelsGpuTest {

    static CudaContext context;
    static Cublas cublas;
    static LayerKernels layers;
    static DeviceLinear linear;
    static DecodeKernels decode;
    static SelectiveScanKernels scan;
    private static String unavailable;

    @BeforeAll
    static void open() {
        try {
            context = CudaContext.open(0);
            System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
            cublas = Cublas.create(context);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage();
            close();
            return;
        }
        layers = new LayerKernels(context);
        linear = new DeviceLinear(cublas, layers);
        decode = new DecodeKernels(context);
        scan = new SelectiveScanKernels(context);
    }

    DeviceArena arena;

    @BeforeEach
    void skipWithoutAGpu() {
        assumeTrue(decode != null, () -> unavailable);
        arena = context.arena();
    }

    @AfterEach
    void freeTheArena() {
        if (arena != null) {
            arena.close();
        }
    }

    @AfterAll
    static void close() {
        if (layers != null) {
            layers.close();
        }
        if (cublas != null) {
            cublas.close();
            cublas = null;
        }
        if (context != null) {
            context.close();
            context = null;
        }
    }

    /** A block's widths and which of its optional parts act. */
    record Case(int m, int dModel, int dInner, int states, int rank, int conv, boolean biases, boolean gate,
                boolean hOffset, boolean yOffset, boolean perRow) {
    }

    static final List<Case> CASES = List.of(
            new Case(1, 768, 1536, 16, 48, 4, false, true, false, false, false),    // Mamba-130M, plain
            new Case(1, 768, 1536, 16, 48, 4, true, true, true, true, false),
            new Case(16, 768, 1536, 16, 48, 4, false, true, true, false, true),     // 16 rows, an h' per row
            new Case(3, 768, 1536, 16, 48, 4, true, false, false, true, true),
            new Case(5, 64, 100, 16, 4, 4, true, true, true, true, false),          // D off 64 (a part block short)
            new Case(2, 36, 72, 8, 3, 3, false, true, true, false, false),           // N 8, K 3
            new Case(8, 128, 256, 32, 8, 2, true, true, true, true, true),           // N 32: the K 4 layout
            new Case(13, 96, 192, 4, 6, 1, false, false, false, false, false),      // K 1, no gate
            new Case(16, 1024, 2048, 16, 64, 4, true, true, true, true, false),
            new Case(2, 64, 128, 16, 160, 4, true, true, true, false, false));      // dt_rank 160 (2.8B's)

    @ParameterizedTest(name = "{0}")
    @FieldSource("CASES")
    void eachFusedLaunchEqualsOrBoundsTheGeneralPathsLaunch(Case c) {
        Random r = new Random(31L * CASES.indexOf(c) + 7);
        int m = c.m;
        int dm = c.dModel;
        int di = c.dInner;
        int n = c.states;
        int xw = c.rank + 2 * n;
        int k = c.conv;
        assertThat(DecodeKernels.serves(m, dm, di, xw)).isTrue();
        DeviceBuffer hidden = up(rand(r, m * dm, 1f));
        DeviceBuffer norm = up(rand(r, dm, 1f));
        DeviceBuffer win = up(rand(r, 2 * di * dm, 0.05f));
        DeviceBuffer bin = c.biases ? up(rand(r, 2 * di, 0.1f)) : null;
        DeviceBuffer cw = up(rand(r, di * k, 0.5f));
        DeviceBuffer cb = c.biases ? up(rand(r, di, 0.1f)) : null;
        float[] conv0 = rand(r, m * di * k, 1f);
        DeviceBuffer wx = up(rand(r, xw * di, 0.05f));
        DeviceBuffer wdt = up(rand(r, di * c.rank, 0.3f));
        DeviceBuffer bdt = c.biases ? up(rand(r, di, 0.5f)) : null;
        float[] negA = rand(r, di * n, 1f);
        for (int i = 0; i < negA.length; i++) {
            negA[i] = -Math.abs(negA[i]) - 0.05f;
        }
        DeviceBuffer a = up(negA);
        DeviceBuffer skip = up(rand(r, di, 1f));
        int hookRows = c.perRow ? m : 1;
        DeviceBuffer ho = c.hOffset ? up(rand(r, hookRows * di * n, 0.3f)) : null;
        DeviceBuffer yo = c.yOffset ? up(rand(r, hookRows * di, 0.3f)) : null;
        float[] ssm0 = rand(r, m * di * n, 1f);
        DeviceBuffer wout = up(rand(r, dm * di, 0.03f));
        double eps = 1e-5;

        // the fused step
        DeviceBuffer xz = nan(m * 2 * di);
        DeviceBuffer xn = nan(m * dm);
        decode.normProduct(xz.address(), 2 * di, xn.address(), hidden.address(), dm, norm.address(), eps,
                win.address(), addr(bin), m, dm, 2 * di);
        DeviceBuffer xc = nan(m * di);
        int blocks = DecodeKernels.partBlocks(di);
        DeviceBuffer part = nan(blocks * m * xw);
        DeviceBuffer convF = up(conv0);
        DeviceBuffer xdbl = nan(m * xw);
        DeviceBuffer counter = arena.allocateFloats(1);
        counter.fill32(0);
        decode.convXProj(xc.address(), part.address(), xdbl.address(), counter.address(), xz.address(), 2 * di,
                cw.address(), addr(cb), convF.address(), wx.address(), m, di, k, xw);
        DeviceBuffer dt = nan(m * di);
        DeviceBuffer y = nan(m * di);
        DeviceBuffer ssmF = up(ssm0);
        ScanShape shape = new ScanShape(m, 1, di, n, 0);
        ScanOperands fused = operands(c, xc, dt, a, xdbl, skip, xz, ho, yo);
        scan.stepDelta(shape, fused, wdt.address(), addr(bdt), c.rank, ssmF.address(), 0, y.address());
        DeviceBuffer residualF = up(hidden.toFloats(m * dm));
        decode.product(residualF.address(), dm, y.address(), di, wout.address(), 0, true, m, di, dm);

        // the general path's launches, on the fused path's inputs of each stage
        DeviceBuffer xnG = nan(m * dm);
        layers.rmsNormForward(xnG.address(), hidden.address(), norm.address(), m, dm, eps);
        close("RMSNorm rows", xn.toFloats(m * dm), xnG.toFloats(m * dm), 1e-6);
        DeviceBuffer xzG = nan(m * 2 * di);
        linear.forward(xzG.address(), 2 * di, xn.address(), dm, win.address(), addr(bin), m, dm, 2 * di);
        close("in_proj", xz.toFloats(m * 2 * di), xzG.toFloats(m * 2 * di), 1e-5 * Math.sqrt(dm));

        DeviceBuffer xcG = nan(m * di);
        DeviceBuffer convG = up(conv0);
        layers.convSiluForward(xcG.address(), 0, xz.address(), 2 * di, cw.address(), addr(cb), convG.address(), m,
                1, di, k);
        assertThat(xc.toFloats(m * di)).as("silu(conv)").containsExactly(xcG.toFloats(m * di));
        assertThat(convF.toFloats(m * di * k)).as("conv state").containsExactly(convG.toFloats(m * di * k));
        float[] parts = part.toFloats(blocks * m * xw);
        float[] summed = new float[m * xw];
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < m * xw; i++) {
                summed[i] += parts[b * m * xw + i];
            }
        }
        float[] xdblF = xdbl.toFloats(m * xw);
        assertThat(xdblF).as("[dt_low | B | C]: the partials summed in block order").containsExactly(summed);
        assertThat(Float.floatToRawIntBits(counter.toFloats(1)[0])).as("the block counter, left for the next launch")
                .isZero();
        DeviceBuffer xdblG = nan(m * xw);
        linear.forward(xdblG.address(), xw, xc.address(), di, wx.address(), 0, m, di, xw);
        close("x_proj", xdblF, xdblG.toFloats(m * xw), 1e-5 * Math.sqrt(di));

        DeviceBuffer dtG = nan(m * di);
        layers.dtSoftplus(dtG.address(), xdbl.address(), xw, wdt.address(), addr(bdt), m, c.rank, di);
        close("Δ", dt.toFloats(m * di), dtG.toFloats(m * di), 1e-5);

        DeviceBuffer yG = nan(m * di);
        DeviceBuffer ssmG = up(ssm0);
        scan.step(SelectiveScanKernels.Precision.FLOAT32, shape, operands(c, xc, dt, a, xdbl, skip, xz, ho, yo),
                ssmG.address(), 0, yG.address());
        assertThat(y.toFloats(m * di)).as("the step's y").containsExactly(yG.toFloats(m * di));
        assertThat(ssmF.toFloats(m * di * n)).as("the step's state").containsExactly(ssmG.toFloats(m * di * n));

        DeviceBuffer residualG = up(hidden.toFloats(m * dm));
        linear.forwardAdd(residualG.address(), dm, y.address(), di, wout.address(), 1f, m, di, dm);
        close("out_proj into the residual", residualF.toFloats(m * dm), residualG.toFloats(m * dm),
                1e-5 * Math.sqrt(di));
    }

    @ParameterizedTest(name = "{0} rows")
    @FieldSource("ROWS")
    void aProductOfFewRowsAssignsOrAddsAndLeavesTheRestOfItsRowsAlone(int m) {
        Random r = new Random(m);
        int in = 260;
        int out = 37;
        int ldy = 41;
        DeviceBuffer x = up(rand(r, m * 264, 1f));
        DeviceBuffer w = up(rand(r, out * in, 0.1f));
        DeviceBuffer b = up(rand(r, out, 1f));
        float[] start = rand(r, m * ldy, 1f);
        DeviceBuffer y = up(start);
        decode.product(y.address(), ldy, x.address(), 264, w.address(), b.address(), true, m, in, out);
        DeviceBuffer yG = up(start);
        linear.forwardAdd(yG.address(), ldy, x.address(), 264, w.address(), 1f, m, in, out);
        float[] want = yG.toFloats(m * ldy);
        float[] bias = b.toFloats(out);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < out; j++) {
                want[i * ldy + j] += bias[j];
            }
        }
        float[] got = y.toFloats(m * ldy);
        close("y += x·Wᵀ + b", got, want, 1e-5 * Math.sqrt(in));
        for (int i = 0; i < m; i++) {
            for (int j = out; j < ldy; j++) {
                assertThat(got[i * ldy + j]).as("row %d column %d past the product", i, j)
                        .isEqualTo(start[i * ldy + j]);
            }
        }
    }

    static final List<Integer> ROWS = List.of(1, 2, 3, 4, 7, 9, 16);

    /** Rows, vocabulary and n of the ranking's cases. */
    record Ranking(int rows, int vocab, int n, boolean excluded) {
    }

    static final List<Ranking> RANKINGS = List.of(new Ranking(1, 50280, 1, false), new Ranking(16, 50280, 1, true),
            new Ranking(3, 50280, 5, true), new Ranking(2, 1025, 4, false), new Ranking(4, 5000, 3, true),
            new Ranking(1, 3000, 2, false));

    @ParameterizedTest(name = "{0}")
    @FieldSource("RANKINGS")
    void theTwoLaunchRankingPicksTopTokensIdsWithItsLogProbabilities(Ranking c) {
        Random r = new Random(c.vocab * 31L + c.rows * 7L + c.n);
        float[] z = rand(r, c.rows * c.vocab, 3f);
        // ties across slices, a -inf slice start, the best in the last slice of row 0; a NaN in the last row (its
        // log-probabilities are NaN, as a logsumexp over a NaN is: the rows before it must stay finite)
        for (int i = 1024; i < 1100 && i < c.vocab - 3; i++) {
            z[i] = Float.NEGATIVE_INFINITY;
        }
        z[5] = z[c.vocab - 3] = 40f;
        z[(c.rows - 1) * c.vocab + 7] = Float.NaN;
        z[c.vocab - 1] = 41f;
        DeviceBuffer logits = up(z);
        long mask = 0;
        if (c.excluded) {
            int words = (c.vocab + 31) / 32;
            float[] bits = new float[words];
            bits[(c.vocab - 1) >> 5] = Float.intBitsToFloat(1 << ((c.vocab - 1) & 31)); // the top id excluded
            mask = up(bits).address();
        }
        DeviceBuffer ids = nan(c.rows * c.n);
        DeviceBuffer logp = nan(c.rows * c.n);
        DeviceBuffer ids1 = nan(c.rows * c.n);
        DeviceBuffer logp1 = nan(c.rows * c.n);
        long workFloats = LayerKernels.topTokensWorkFloats(c.rows, c.vocab, c.n);
        assertThat(workFloats).isPositive();
        DeviceBuffer work = nan((int) workFloats);
        layers.topTokens(ids.address(), logp.address(), logits.address(), c.rows, c.vocab, c.n, mask, work.address());
        layers.topTokens(ids1.address(), logp1.address(), logits.address(), c.rows, c.vocab, c.n, mask, 0);
        float[] got = ids.toFloats(c.rows * c.n);
        float[] want = ids1.toFloats(c.rows * c.n);
        int[] gotIds = new int[got.length];
        int[] wantIds = new int[want.length];
        for (int i = 0; i < got.length; i++) {
            gotIds[i] = Float.floatToRawIntBits(got[i]);
            wantIds[i] = Float.floatToRawIntBits(want[i]);
        }
        assertThat(gotIds).as("ids against the one-block ranking").containsExactly(wantIds);
        assertThat(gotIds[0]).as("row 0's best").isEqualTo(c.excluded ? 5 : c.vocab - 1);
        float[] gotLogp = logp.toFloats(c.rows * c.n);
        float[] wantLogp = logp1.toFloats(c.rows * c.n);
        for (int i = 0; i < (c.rows - 1) * c.n; i++) {
            assertThat(wantLogp[i]).as("log p %d of a row without a NaN", i).isFinite();
        }
        int last = (c.rows - 1) * c.n;
        for (int i = last; i < gotLogp.length; i++) {
            assertThat(gotLogp[i]).as("log p %d of the row with a NaN", i).isNaN();
            assertThat(wantLogp[i]).as("the one-block ranking's log p %d of the row with a NaN", i).isNaN();
        }
        close("log p", Arrays.copyOf(gotLogp, last), Arrays.copyOf(wantLogp, last), 1e-6);
    }

    private static ScanOperands operands(Case c, DeviceBuffer xc, DeviceBuffer dt, DeviceBuffer a, DeviceBuffer xdbl,
                                         DeviceBuffer skip, DeviceBuffer xz, DeviceBuffer ho, DeviceBuffer yo) {
        int di = c.dInner;
        return new ScanOperands(xc.address(), dt.address(), a.address(), xdbl.address(), c.rank + 2 * c.states,
                c.rank, skip.address(), c.gate ? xz.address() : 0, 2 * di, di, addr(ho), addr(yo), 0, 0, 0,
                c.perRow);
    }

    // |a − b| <= tol · max(1, max|b|) elementwise, failing at the first bad index; prints the largest error
    private static void close(String what, float[] got, float[] want, double tol) {
        double scale = 1;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs((double) got[i] - want[i]);
            assertThat(e <= tol * scale).as("%s at %d: %s against %s (bound %s)", what, i, got[i], want[i],
                    tol * scale).isTrue();
            worst = Math.max(worst, e / scale);
        }
        System.out.printf("%s: largest error %.3g of max|b| (bound %.3g)%n", what, worst, tol);
    }

    private DeviceBuffer up(float[] v) {
        return arena.upload(v);
    }

    private DeviceBuffer nan(int n) {
        DeviceBuffer b = arena.allocateFloats(n);
        b.fill32(Gpu.NAN32);
        return b;
    }

    private static long addr(DeviceBuffer b) {
        return b == null ? 0 : b.address();
    }

    private static float[] rand(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return v;
    }
}
