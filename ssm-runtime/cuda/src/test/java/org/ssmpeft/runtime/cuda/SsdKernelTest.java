package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
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
import org.ssmpeft.runtime.cuda.SsdCase.Hooks;
import org.ssmpeft.runtime.cuda.SsdCase.Layout;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;
import org.ssmpeft.runtime.cuda.ssd.SsdKernels;
import org.ssmpeft.runtime.cuda.ssd.SsdShape;

/**
 * Mamba-2's chunked SSD kernels against the cpu backend's chunked scan (with the z gate applied on top of it),
 * forward and backward, on fixed edge shapes (L 1, chunk 1, a chunk longer than L, L off the chunk; P 1 to 130 and N
 * 1 to 130, i.e. one to three 64-wide tiles; H 1-8 with G 1, G between and G = H; B 1-4; chunks 1, 8, 64, 100, 256;
 * each hook alone; packed and padded xbc layouts), the benchmark's shape and random ones. Float32: every tensor
 * within 1e-5 relative; bf16: token tensors (y, dx, dB, dC, dΔ, dz: rounded to bf16 on the way out) within 1e-2, the
 * float32 state and checkpoints within 1e-4, the parameter and dh0 gradients within 1e-2. Columns a kernel must not
 * write must still hold the poison. Every error is printed, failing or not. Also: the forward that keeps no state
 * equals the one from a zero state, and the forward and the backward give the same bits when run twice.
 */
@Tag("gpu")
class SsdKernelTest {

    static final double F32 = 1e-5;
    static final double BF16_TOKENS = 1e-2;
    static final double BF16_STATE = 1e-4;
    static final double BF16_PARAMETERS = 1e-2;
    /** Bound on the cpu reference's multiply-adds per random case ({@link SsdCase#referenceWork}). */
    static final double RANDOM_WORK = 4e8;
    /** What {@link #bitDifference} says of two arrays of the same bits. */
    static final String SAME = "same bits";

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

    static SsdCase ssd(int b, int l, int h, int p, int g, int n, int q, Hooks hooks, Layout layout, Precision prec,
                       long seed) {
        return new SsdCase(new SsdShape(b, l, h, p, g, n, q), hooks, layout, prec, seed);
    }

    /** The benchmark's shape (SsdBench): B 4, L 1024, H 24, P 64, G 1, N 128, chunk 256. */
    static SsdCase benchmark(Hooks hooks, Precision prec, long seed) {
        return ssd(4, 1024, 24, 64, 1, 128, 256, hooks, Layout.PACKED, prec, seed);
    }

    static List<SsdCase> cases() {
        List<SsdCase> c = new ArrayList<>();
        var f = Precision.FLOAT32;
        var bf = Precision.BF16;
        var all = Hooks.all();
        // length 1, chunk 1 and chunks longer than L
        c.add(ssd(1, 1, 1, 1, 1, 1, 1, Hooks.none(), Layout.PACKED, f, 1));
        c.add(ssd(2, 1, 3, 37, 1, 5, 64, all, Layout.ODD, f, 2));
        c.add(ssd(2, 17, 2, 16, 1, 16, 1, all, Layout.ODD, f, 3));
        c.add(ssd(1, 50, 3, 37, 1, 16, 64, all, Layout.PACKED, f, 4));
        c.add(ssd(2, 100, 2, 64, 2, 16, 256, all, Layout.WIDE, f, 5));
        // L off the chunk (300 = 4·64 + 44, 600 = 2·256 + 88) and on it (600 = 6·100)
        c.add(ssd(2, 300, 4, 64, 2, 64, 64, all, Layout.ODD, f, 6));
        c.add(ssd(2, 600, 2, 64, 1, 64, 256, Hooks.block(), Layout.WIDE, f, 7));
        c.add(ssd(4, 600, 4, 37, 2, 16, 100, all, Layout.PACKED, f, 8));
        // P and N across 64-wide tiles: P 80, 130; N 1, 128, 130
        c.add(ssd(2, 130, 2, 80, 1, 16, 100, all, Layout.WIDE, f, 9));
        c.add(ssd(1, 200, 2, 130, 2, 130, 64, all, Layout.ODD, f, 10));
        c.add(ssd(2, 256, 4, 64, 1, 128, 256, Hooks.block(), Layout.PACKED, f, 11));
        c.add(ssd(1, 100, 2, 32, 1, 130, 8, all, Layout.PACKED, f, 12));
        c.add(ssd(2, 40, 2, 64, 1, 1, 8, all, Layout.ODD, f, 13));
        c.add(ssd(1, 513, 3, 64, 1, 128, 64, new Hooks(true, false, false, true, false), Layout.PACKED, f, 14));
        // heads and groups: G between 1 and H, G = H, P 1 with several heads
        c.add(ssd(3, 77, 8, 8, 4, 5, 8, all, Layout.ODD, f, 15));
        c.add(ssd(2, 64, 8, 16, 8, 16, 8, all, Layout.WIDE, f, 16));
        c.add(ssd(4, 33, 6, 1, 2, 16, 8, all, Layout.ODD, f, 17));
        // each hook alone, and none
        int[] mid = {2, 129, 4, 64, 2, 32, 64};
        for (Hooks hooks : List.of(Hooks.none(), new Hooks(true, false, false, false, false),
                new Hooks(false, true, false, false, false), new Hooks(false, false, true, false, false),
                new Hooks(false, false, false, true, false), new Hooks(false, false, false, false, true))) {
            c.add(ssd(mid[0], mid[1], mid[2], mid[3], mid[4], mid[5], mid[6], hooks, Layout.ODD, f, 20 + c.size()));
        }
        // bf16
        c.add(ssd(1, 1, 1, 1, 1, 1, 1, Hooks.none(), Layout.PACKED, bf, 40));
        c.add(ssd(2, 17, 2, 16, 1, 16, 1, all, Layout.ODD, bf, 41));
        c.add(ssd(1, 200, 2, 130, 2, 130, 64, all, Layout.WIDE, bf, 42));
        c.add(ssd(2, 130, 2, 80, 1, 16, 100, all, Layout.ODD, bf, 43));
        c.add(ssd(3, 77, 8, 8, 4, 5, 8, all, Layout.PACKED, bf, 44));
        c.add(ssd(2, 600, 2, 64, 1, 64, 256, Hooks.block(), Layout.PACKED, bf, 45));
        // the benchmark's shape, with D and z
        c.add(benchmark(Hooks.block(), f, 50));
        c.add(benchmark(Hooks.block(), bf, 51));
        c.addAll(randomCases(new Random(2027), 10));
        if (Boolean.getBoolean(SelectiveScanKernelTest.SMALL)) {
            c.removeIf(x -> (long) x.m * x.d > 100_000L);
        }
        return c;
    }

    /** Random shapes, hooks, layouts and precisions, the cpu reference's work bounded by {@link #RANDOM_WORK}. */
    static List<SsdCase> randomCases(Random r, int count) {
        int[] headDims = {1, 8, 16, 37, 64, 80, 130};
        int[] chunks = {1, 8, 64, 100, 256};
        Layout[] layouts = {Layout.PACKED, Layout.ODD, Layout.WIDE};
        List<SsdCase> c = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int b = 1 + r.nextInt(4);
            int h = 1 + r.nextInt(8);
            List<Integer> divisors = new ArrayList<>();
            for (int g = 1; g <= h; g++) {
                if (h % g == 0) {
                    divisors.add(g);
                }
            }
            int g = divisors.get(r.nextInt(divisors.size()));
            int p = r.nextBoolean() ? headDims[r.nextInt(headDims.length)] : 1 + r.nextInt(130);
            int n = r.nextBoolean() ? 1 + r.nextInt(130) : 16 << r.nextInt(4);
            int q = r.nextBoolean() ? chunks[r.nextInt(chunks.length)] : 1 + r.nextInt(SsdShape.MAX_CHUNK);
            int l = 1 + r.nextInt(600);
            SsdShape s = new SsdShape(b, l, h, p, g, n, q);
            // the launch grids' z dimension holds B·chunks·H·2 blocks (at most 65535)
            while (l > 1 && (SsdCase.referenceWork(s) > RANDOM_WORK || s.checkpointFloats() > 8_000_000L
                    || 2L * b * s.chunks() * h > 65535)) {
                l = Math.max(1, l / 2);
                s = new SsdShape(b, l, h, p, g, n, q);
            }
            var hooks = new Hooks(r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextInt(4) != 0,
                    r.nextBoolean());
            Precision prec = i % 3 == 2 ? Precision.BF16 : Precision.FLOAT32;
            c.add(new SsdCase(s, hooks, layouts[r.nextInt(layouts.length)], prec, 100 + i));
        }
        return c;
    }

    static double tolerance(SsdCase c, String tensor) {
        if (tensor.equals(SsdCase.UNTOUCHED_DXBC) || tensor.equals(SsdCase.UNTOUCHED_DZ)) {
            return 0;
        }
        if (c.precision == Precision.FLOAT32) {
            return F32;
        }
        return switch (tensor) {
            case "y", "dx", "dB", "dC", "ddt", "dz" -> BF16_TOKENS;
            case "state", "checkpoints" -> BF16_STATE;
            default -> BF16_PARAMETERS;
        };
    }

    private static void check(String what, SsdCase c, Map<String, Double> errors) {
        System.out.println(what + " " + c + ": " + errors);
        for (var e : errors.entrySet()) {
            assertThat(e.getValue()).as(c + " " + e.getKey()).isLessThanOrEqualTo(tolerance(c, e.getKey()));
        }
    }

    @TestFactory
    Stream<DynamicTest> forwardAndBackwardMatchTheCpuScan() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> {
            SsdCase.Result want = c.cpu(true);
            SsdCase.Result got;
            try (DeviceArena a = context.arena()) {
                got = c.gpu(kernels, a);
            }
            check("ssd", c, c.errors(got, want));
        }));
    }

    /**
     * The forward that starts from zeros and keeps no state (state address 0, as inference without a cache) gives the
     * training forward's y and checkpoints from a zero state, bit for bit, and the cpu's.
     */
    @Test
    void forwardWithoutAStateEqualsTheForwardFromZeros() {
        for (Precision prec : Precision.values()) {
            SsdCase c = ssd(3, 300, 4, 64, 2, 32, 64, new Hooks(false, true, true, true, true), Layout.ODD, prec,
                    60 + prec.ordinal());
            SsdCase.Result want = c.cpu(false);
            try (DeviceArena a = context.arena()) {
                SsdCase.OnDevice dev = c.new OnDevice(a);
                SsdCase.Result training = dev.forward(kernels, true);
                SsdCase.Result inference = dev.forward(kernels, false);
                check("inference", c, c.errors(inference, want));
                assertThat(bitDifference(inference.y, training.y)).as(c + " y").isEqualTo(SAME);
                assertThat(bitDifference(inference.checkpoints, training.checkpoints)).as(c + " checkpoints")
                        .isEqualTo(SAME);
            }
        }
    }

    static List<SsdCase> determinismCases() {
        List<SsdCase> c = new ArrayList<>();
        for (Precision prec : Precision.values()) {
            c.add(ssd(3, 300, 4, 80, 2, 64, 64, Hooks.all(), Layout.ODD, prec, 70 + prec.ordinal()));
            c.add(benchmark(Hooks.all(), prec, 72 + prec.ordinal()));
        }
        if (Boolean.getBoolean(SelectiveScanKernelTest.SMALL)) {
            c.removeIf(x -> x.shape.len() > 300);
        }
        return c;
    }

    /** Two forwards on the same inputs: the same bits of y, the last state and the checkpoints. */
    @TestFactory
    Stream<DynamicTest> forwardTwiceGivesTheSameBits() {
        return determinismCases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> {
            try (DeviceArena a = context.arena()) {
                SsdCase.OnDevice dev = c.new OnDevice(a);
                SsdCase.Result first = dev.forward(kernels, true);
                SsdCase.Result second = dev.forward(kernels, true);
                Map<String, String> diff = new LinkedHashMap<>();
                diff.put("y", bitDifference(first.y, second.y));
                diff.put("state", bitDifference(first.state, second.state));
                diff.put("checkpoints", bitDifference(first.checkpoints, second.checkpoints));
                assertSameBits("forward twice", c, diff);
            }
        }));
    }

    /**
     * Two backwards from the same forward: the same bits of every gradient (sums across blocks go through partials
     * in a fixed order, never floating-point atomics).
     */
    @TestFactory
    Stream<DynamicTest> backwardTwiceGivesTheSameBits() {
        return determinismCases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> {
            try (DeviceArena a = context.arena()) {
                SsdCase.OnDevice dev = c.new OnDevice(a);
                SsdCase.Result first = dev.forward(kernels, true);
                dev.backward(kernels, first);
                SsdCase.Result second = new SsdCase.Result();
                dev.backward(kernels, second);
                Map<String, String> diff = new LinkedHashMap<>();
                diff.put("dxbc", bitDifference(first.rawDxbc, second.rawDxbc));
                diff.put("ddt", bitDifference(first.ddt, second.ddt));
                diff.put("dz", bitDifference(first.rawDz, second.rawDz));
                diff.put("dA", bitDifference(first.dA, second.dA));
                diff.put("dD", bitDifference(first.dSkip, second.dSkip));
                diff.put("dh'", bitDifference(first.dhOff, second.dhOff));
                diff.put("dy'", bitDifference(first.dyOff, second.dyOff));
                diff.put("dh0", bitDifference(first.dh0, second.dh0));
                assertSameBits("backward twice", c, diff);
            }
        }));
    }

    private static void assertSameBits(String what, SsdCase c, Map<String, String> diff) {
        System.out.println(what + " " + c + ": " + diff);
        for (var e : diff.entrySet()) {
            assertThat(e.getValue()).as(what + " " + c + " " + e.getKey()).isEqualTo(SAME);
        }
    }

    /** {@link #SAME} when both hold the same bits (or both are null), else how many elements differ and the first. */
    static String bitDifference(float[] x, float[] y) {
        if (x == null || y == null) {
            return x == y ? SAME : "one of them is missing";
        }
        if (x.length != y.length) {
            return "lengths " + x.length + " and " + y.length;
        }
        int first = -1, count = 0;
        for (int i = 0; i < x.length; i++) {
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
                count++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        return count == 0 ? SAME : count + " of " + x.length + " differ, the first at " + first + ": " + x[first]
                + " and " + y[first];
    }
}
