package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import org.ssmpeft.runtime.cpu.CpuSsdReference;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;
import org.ssmpeft.runtime.cuda.ssd.SsdKernels;
import org.ssmpeft.runtime.cuda.ssd.SsdOperands;
import org.ssmpeft.runtime.cuda.ssd.SsdShape;

/**
 * Mamba-2's decoding step on the GPU: L steps from h0 give the cpu forward's outputs and last state over the same L
 * tokens (decode == forward), with every hook and the gate, float32 within 1e-5 relative, bf16 token tensors within
 * 1e-2; and the device forward of the same tokens gives the same (decode == forward on the device).
 */
@Tag("gpu")
class SsdStepGpuTest {

    static CudaContext context;
    static SsdKernels kernels;

    @BeforeAll
    static void open() {
        context = Gpu.openOrSkip();
        kernels = new SsdKernels(context);
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
    }

    record Case(int b, int l, int h, int p, int g, int n, int chunk, boolean hooks, Precision precision, long seed) {
        @Override
        public String toString() {
            return precision + " B" + b + " L" + l + " H" + h + " P" + p + " G" + g + " N" + n + " Q" + chunk
                    + (hooks ? " h0 h' y' D z" : " plain");
        }
    }

    static List<Case> cases() {
        var f = Precision.FLOAT32;
        List<Case> c = new ArrayList<>(List.of(
                new Case(1, 1, 1, 1, 1, 1, 4, false, f, 1),
                new Case(2, 9, 4, 37, 2, 5, 4, true, f, 2),
                new Case(3, 20, 6, 64, 3, 130, 8, true, f, 3),
                new Case(2, 12, 8, 70, 1, 128, 5, true, f, 4),
                new Case(2, 10, 4, 64, 1, 64, 16, true, Precision.BF16, 5)));
        Random r = new Random(77);
        for (int i = 0; i < 4; i++) {
            int g = 1 + r.nextInt(2);
            c.add(new Case(1 + r.nextInt(3), 1 + r.nextInt(16), g * (1 + r.nextInt(3)), 1 + r.nextInt(80), g,
                    1 + r.nextInt(130), 1 + r.nextInt(8), r.nextBoolean(), i % 2 == 0 ? f : Precision.BF16, 100 + i));
        }
        return c;
    }

    @TestFactory
    Stream<DynamicTest> stepsEqualTheForward() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> run(c)));
    }

    static float[] gauss(Random r, int count, double scale) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) (r.nextGaussian() * scale);
        }
        return v;
    }

    static float[] rounded(float[] v, Precision p) {
        if (p == Precision.FLOAT32) {
            return v;
        }
        float[] o = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            int bits = Float.floatToRawIntBits(v[i]);
            bits += 0x7fff + ((bits >>> 16) & 1);
            o[i] = Float.intBitsToFloat(bits & 0xffff0000);
        }
        return o;
    }

    static double silu(double z) {
        return z / (1 + Math.exp(-z));
    }

    static void run(Case c) {
        Random r = new Random(c.seed());
        int d = c.h() * c.p(), ldx = d + 2 * c.g() * c.n(), rows = c.b() * c.l(), state = c.b() * c.h() * c.p() * c.n();
        var shape = new SsdShape(c.b(), c.l(), c.h(), c.p(), c.g(), c.n(), c.chunk());
        Precision pr = c.precision();
        float[] xbc = rounded(gauss(r, rows * ldx, 0.5), pr);
        float[] dt = new float[rows * c.h()];
        for (int i = 0; i < dt.length; i++) {
            dt[i] = (float) (0.001 + 0.1 * r.nextDouble());
        }
        dt = rounded(dt, pr);
        float[] a = new float[c.h()];
        float[] skip = new float[c.h()];
        for (int i = 0; i < c.h(); i++) {
            a[i] = (float) -Math.exp(-1 + 2.5 * r.nextDouble());
            skip[i] = c.hooks() ? (float) (0.5 + r.nextDouble()) : 0f;
        }
        float[] z = c.hooks() ? rounded(gauss(r, rows * d, 0.5), pr) : null;
        float[] h0 = c.hooks() ? gauss(r, state, 0.1) : new float[state];
        float[] hOff = c.hooks() ? gauss(r, c.h() * c.p() * c.n(), 0.1) : null;
        float[] yOff = c.hooks() ? gauss(r, d, 0.1) : null;

        // the cpu forward over the L tokens (rows b·L + t), the gate on top
        float[] want = new float[rows * d];
        float[] wantState = h0.clone();
        CpuSsdReference.forward(want, xbc, ldx, dt, a, skip, wantState, hOff, yOff, null, c.b(), c.l(), c.h(), c.p(),
                c.g(), c.n(), c.chunk());
        if (z != null) {
            for (int i = 0; i < want.length; i++) {
                want[i] = (float) (want[i] * silu(z[i]));
            }
        }

        try (DeviceArena arena = context.arena()) {
            // token-major step inputs: step t reads row t of each sequence, laid out (B, ·) per step
            DeviceBuffer xs = arena.allocate((long) c.b() * ldx * pr.bytes());
            DeviceBuffer dts = arena.allocate((long) c.b() * c.h() * pr.bytes());
            DeviceBuffer zs = z == null ? null : arena.allocate((long) c.b() * d * pr.bytes());
            DeviceBuffer ys = arena.allocate((long) c.b() * d * pr.bytes());
            DeviceBuffer st = arena.upload(h0);
            DeviceBuffer ad = arena.upload(a), sd = arena.upload(skip);
            DeviceBuffer hd = hOff == null ? null : arena.upload(hOff), yd = yOff == null ? null : arena.upload(yOff);
            float[] got = new float[rows * d];
            for (int t = 0; t < c.l(); t++) {
                upload(pr, xs, rowsAt(xbc, ldx, c.b(), c.l(), t));
                upload(pr, dts, rowsAt(dt, c.h(), c.b(), c.l(), t));
                if (zs != null) {
                    upload(pr, zs, rowsAt(z, d, c.b(), c.l(), t));
                }
                var o = new SsdOperands(xs.address(), ldx, d, d + c.g() * c.n(), dts.address(), ad.address(),
                        sd.address(), zs == null ? 0 : zs.address(), d, 0, hd == null ? 0 : hd.address(),
                        yd == null ? 0 : yd.address());
                kernels.step(pr, shape, o, st.address(), ys.address());
                float[] y = pr.read(ys, c.b() * d);
                for (int b = 0; b < c.b(); b++) {
                    System.arraycopy(y, b * d, got, (b * c.l() + t) * d, d);
                }
            }
            float[] gotState = st.toFloats(state);

            // the device forward of the same tokens
            DeviceBuffer xf = pr.upload(arena, xbc), dtf = pr.upload(arena, dt);
            DeviceBuffer zf = z == null ? null : pr.upload(arena, z);
            DeviceBuffer sf = arena.upload(h0), yf = arena.allocate((long) rows * d * pr.bytes());
            DeviceBuffer ck = arena.allocateFloats(shape.checkpointFloats());
            DeviceBuffer work = arena.allocateFloats(SsdKernels.forwardWorkFloats(shape));
            var of = new SsdOperands(xf.address(), ldx, d, d + c.g() * c.n(), dtf.address(), ad.address(),
                    sd.address(), zf == null ? 0 : zf.address(), d, 0, hd == null ? 0 : hd.address(),
                    yd == null ? 0 : yd.address());
            kernels.forward(pr, shape, of, sf.address(), ck.address(), work.address(), yf.address());
            float[] fwd = pr.read(yf, rows * d);
            float[] fwdState = sf.toFloats(state);

            double tokens = pr == Precision.FLOAT32 ? 1e-5 : 1e-2;
            double states = pr == Precision.FLOAT32 ? 1e-5 : 1e-4;
            double ey = ScanCase.relError(got, want), es = ScanCase.relError(gotState, wantState);
            double fy = ScanCase.relError(got, fwd), fs = ScanCase.relError(gotState, fwdState);
            System.out.printf("%s: step vs cpu y %.2e state %.2e; step vs device forward y %.2e state %.2e%n", c,
                    ey, es, fy, fs);
            assertThat(ey).as("y vs cpu").isLessThan(tokens);
            assertThat(es).as("state vs cpu").isLessThan(states);
            assertThat(fy).as("y vs device forward").isLessThan(tokens);
            assertThat(fs).as("state vs device forward").isLessThan(states);
        }
    }

    // row t of every sequence of a (B·L, width) tensor, as (B, width)
    static float[] rowsAt(float[] v, int width, int batch, int len, int t) {
        float[] o = new float[batch * width];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(v, (b * len + t) * width, o, b * width, width);
        }
        return o;
    }

    static void upload(Precision p, DeviceBuffer buf, float[] values) {
        if (p == Precision.FLOAT32) {
            buf.copyFrom(values);
        } else {
            buf.copyFromAsBf16(values);
        }
    }
}
