package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.ssmpeft.runtime.cuda.ScanCase.Hooks;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.scan.ScanLayout;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * The fused scan kernels against the cpu backend's scan, forward and backward, on fixed edge shapes and random ones
 * (B 1-8, D up to 2048, L up to 2048 and not a multiple of the tile, N 1-16, each hook on and off, the extension),
 * float32 within 1e-5 relative per tensor; bf16 token tensors within 1e-2 (they are rounded to bf16 on the way out),
 * their float32 state and parameter gradients within 1e-5. Every error is printed, failing or not.
 */
@Tag("gpu")
class SelectiveScanKernelTest {

    static final double F32 = 1e-5;
    static final double BF16_TOKENS = 1e-2;

    /** -Dssmpeft.gpu.small=true keeps the small cases only (for runs under compute-sanitizer). */
    static final String SMALL = "ssmpeft.gpu.small";

    static CudaContext context;
    static SelectiveScanKernels kernels;

    @BeforeAll
    static void open() {
        context = ScanCase.openOrSkip();
        kernels = new SelectiveScanKernels(context);
        System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
    }

    static List<ScanCase> cases() {
        List<ScanCase> c = new ArrayList<>();
        var f = Precision.FLOAT32;
        c.add(new ScanCase(1, 1, 1, 1, Hooks.none(), f, 1));
        c.add(new ScanCase(1, 1, 3, 16, Hooks.all(0), f, 2));
        c.add(new ScanCase(2, 33, 37, 16, Hooks.all(0), f, 3));
        c.add(new ScanCase(3, 129, 65, 5, Hooks.all(3), f, 4));
        c.add(new ScanCase(2, 100, 70, 16, Hooks.all(8), f, 5));
        c.add(new ScanCase(1, 77, 40, 16, Hooks.all(40), f, 6));
        c.add(new ScanCase(2, 64, 32, 16, new Hooks(false, false, false, false, 0), f, 7));
        c.add(new ScanCase(4, 1024, 1536, 16, Hooks.none(), f, 8));
        c.add(new ScanCase(8, 2048, 2048, 16, Hooks.all(0), f, 9));
        c.add(new ScanCase(2, 300, 96, 16, Hooks.all(4), Precision.BF16, 10));
        c.add(new ScanCase(4, 1024, 1536, 16, Hooks.none(), Precision.BF16, 11));
        // aligned pitches (the forward's vector tile where D and N + n' are multiples of 4, else the scalar one):
        // the benchmark's shape, every hook with an extension, a length off the tile, channels off the block
        c.add(new ScanCase(4, 1024, 1536, 16, Hooks.none(), f, 12, true));
        c.add(new ScanCase(4, 1024, 1536, 16, Hooks.none(), Precision.BF16, 13, true));
        c.add(new ScanCase(2, 77, 200, 16, Hooks.all(4), f, 14, true));
        c.add(new ScanCase(3, 130, 36, 12, Hooks.all(8), Precision.BF16, 15, true));
        c.add(new ScanCase(1, 33, 20, 16, Hooks.all(0), Precision.BF16, 16, true));
        c.add(new ScanCase(2, 50, 30, 16, Hooks.all(0), f, 17, true));
        Random r = new Random(2026);
        for (int i = 0; i < 10; i++) {
            int b = 1 + r.nextInt(8);
            int d = 1 + r.nextInt(2048);
            int l = 1 + r.nextInt(2048);
            while ((long) b * d * l > 6_000_000L) {
                l = Math.max(1, l / 2);
            }
            int n = 1 + r.nextInt(16);
            var hooks = new Hooks(r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextInt(4) != 0,
                    r.nextInt(3) == 0 ? 1 + r.nextInt(8) : 0);
            c.add(new ScanCase(b, l, d, n, hooks, i % 4 == 3 ? Precision.BF16 : f, 100 + i, i % 2 == 1));
        }
        if (Boolean.getBoolean(SMALL)) {
            c.removeIf(x -> (long) x.b * x.l * x.d > 100_000L);
        }
        return c;
    }

    static double tolerance(ScanCase c, String tensor) {
        if (c.precision == Precision.FLOAT32) {
            return F32;
        }
        return switch (tensor) {
            case "y", "dx", "ddt", "dz", "dB", "dC", "dB'C'" -> BF16_TOKENS;
            default -> F32;
        };
    }

    @TestFactory
    Stream<DynamicTest> forwardAndBackwardMatchTheCpuScan() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> {
            ScanCase.Result want = c.cpu(true);
            ScanCase.Result got;
            try (DeviceArena a = context.arena()) {
                got = c.gpu(kernels, a, true);
            }
            Map<String, Double> errors = c.errors(got, want);
            System.out.println("scan " + c + ": " + errors);
            for (var e : errors.entrySet()) {
                assertThat(e.getValue()).as(c + " " + e.getKey()).isLessThanOrEqualTo(tolerance(c, e.getKey()));
            }
        }));
    }

    /**
     * Every compiled layout (not only the default ones), forward and backward in that layout, on shapes whose
     * N + n' it holds: the benchmark compares them, so each must be right.
     */
    @TestFactory
    Stream<DynamicTest> everyCompiledLayoutMatchesTheCpuScan() {
        List<ScanCase> shapes = List.of(
                new ScanCase(2, 100, 70, 16, Hooks.all(0), Precision.FLOAT32, 501),
                new ScanCase(1, 45, 37, 5, Hooks.all(3), Precision.BF16, 502),
                new ScanCase(2, 70, 50, 16, Hooks.all(8), Precision.FLOAT32, 503),
                new ScanCase(1, 33, 20, 12, Hooks.all(13), Precision.BF16, 504),
                new ScanCase(1, 40, 40, 16, Hooks.all(40), Precision.FLOAT32, 505),
                new ScanCase(1, 19, 20, 9, Hooks.all(30), Precision.BF16, 506),
                new ScanCase(2, 100, 72, 16, Hooks.all(0), Precision.BF16, 507, true),
                new ScanCase(1, 45, 40, 12, Hooks.all(4), Precision.FLOAT32, 508, true),
                new ScanCase(2, 70, 48, 16, Hooks.all(16), Precision.BF16, 509, true),
                new ScanCase(1, 40, 40, 32, Hooks.all(28), Precision.FLOAT32, 510, true));
        List<DynamicTest> tests = new ArrayList<>();
        for (ScanLayout layout : ScanLayout.COMPILED) {
            for (ScanCase c : shapes) {
                if (ScanLayout.tileFor(c.n + c.ne) != layout.tile()) {
                    continue;
                }
                tests.add(DynamicTest.dynamicTest(layout + " " + c, () -> {
                    var k = new SelectiveScanKernels(context, layout, layout.single());
                    ScanCase.Result want = c.cpu(true);
                    ScanCase.Result got;
                    try (DeviceArena a = context.arena()) {
                        got = c.gpu(k, a, true);
                    }
                    Map<String, Double> errors = c.errors(got, want);
                    System.out.println("layout " + layout + " " + c + ": " + errors);
                    for (var e : errors.entrySet()) {
                        assertThat(e.getValue()).as(layout + " " + c + " " + e.getKey())
                                .isLessThanOrEqualTo(tolerance(c, e.getKey()));
                    }
                }));
            }
        }
        assertThat(tests).hasSizeGreaterThanOrEqualTo(2 * ScanLayout.COMPILED.size());
        return tests.stream();
    }

    /** The inference forward (no checkpoints, state kept) equals the training forward, and the cpu. */
    @Test
    void inferenceForwardMatches() {
        ScanCase c = new ScanCase(3, 500, 200, 16, Hooks.all(2), Precision.FLOAT32, 42);
        ScanCase.Result want = c.cpu(false);
        try (DeviceArena a = context.arena()) {
            ScanCase.Result got = c.gpu(kernels, a, false);
            Map<String, Double> errors = c.errors(got, want);
            System.out.println("inference " + c + ": " + errors);
            errors.values().forEach(e -> assertThat(e).isLessThanOrEqualTo(F32));
        }
    }

    /** Decoding L single steps from h0 gives the forward's outputs and final state (same per-step code). */
    @Test
    void stepsEqualTheForward() {
        for (Precision p : Precision.values()) {
            ScanCase c = new ScanCase(3, 20, 100, 16, Hooks.all(3), p, 77);
            int b = c.b, l = c.l, d = c.d;
            try (DeviceArena a = context.arena()) {
                ScanCase.Result full = c.gpu(kernels, a, false);
                DeviceBuffer state = a.upload(c.h0.clone());
                DeviceBuffer extState = a.upload(c.extH0.clone());
                DeviceBuffer gA = a.upload(c.negA), gSkip = a.upload(c.skip), gHoff = a.upload(c.hOff);
                DeviceBuffer gYoff = a.upload(c.yOff), gExtA = a.upload(c.extNegA);
                float[] stepped = new float[b * l * d];
                for (int t = 0; t < l; t++) {
                    DeviceBuffer x = p.upload(a, rows(c.x, b, l, d, t));
                    DeviceBuffer dt = p.upload(a, rows(c.dt, b, l, d, t));
                    DeviceBuffer bc = p.upload(a, rows(c.bc, b, l, c.ldbc, t));
                    DeviceBuffer z = p.upload(a, rows(c.z, b, l, c.ldz, t));
                    DeviceBuffer ext = p.upload(a, rows(c.ext, b, l, c.ldext, t));
                    DeviceBuffer y = a.allocate((long) b * d * p.bytes());
                    var ops = new ScanOperands(x.address(), dt.address(), gA.address(), bc.address(), c.ldbc,
                            c.R, gSkip.address(), z.address(), c.ldz, d, gHoff.address(), gYoff.address(),
                            ext.address(), c.ldext, gExtA.address());
                    kernels.step(p, new org.ssmpeft.runtime.cuda.scan.ScanShape(b, 1, d, c.n, c.ne), ops,
                            state.address(), extState.address(), y.address());
                    float[] yt = p.read(y, b * d);
                    for (int r = 0; r < b; r++) {
                        System.arraycopy(yt, r * d, stepped, (r * l + t) * d, d);
                    }
                }
                double ey = ScanCase.relError(stepped, full.y);
                double es = ScanCase.relError(state.toFloats(b * d * c.n), full.state);
                System.out.println("steps " + c + ": y " + ey + ", state " + es);
                assertThat(ey).as("y").isLessThanOrEqualTo(1e-6);
                assertThat(es).as("state").isLessThanOrEqualTo(1e-6);
            }
        }
    }

    // the (B, width) rows of time step t of a (B, L, width) tensor
    private static float[] rows(float[] v, int b, int l, int width, int t) {
        float[] out = new float[b * width];
        for (int r = 0; r < b; r++) {
            System.arraycopy(v, (r * l + t) * width, out, r * width, width);
        }
        return out;
    }
}
