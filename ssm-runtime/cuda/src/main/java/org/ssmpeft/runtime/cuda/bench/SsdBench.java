package org.ssmpeft.runtime.cuda.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.IntConsumer;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;
import org.ssmpeft.runtime.cuda.ssd.SsdKernels;
import org.ssmpeft.runtime.cuda.ssd.SsdOperands;
import org.ssmpeft.runtime.cuda.ssd.SsdShape;

/**
 * The Mamba-2 SSD benchmark: B 4, L 1024, H 24, P 64 (D 1536), G 1, N 128, chunk 256, with D skip and z gate, float32
 * and bf16 token tensors, forward and forward + backward, no initial state (as mamba_ssm's
 * {@code mamba_chunk_scan_combined} is timed); the median of timed repetitions after warm-up, each timed with a pair
 * of CUDA events, over rotating input sets (together at least three times the L2, so no set is still cached when it
 * comes round again). The memory-traffic floor is the bytes that must move once over the device-to-device copy
 * bandwidth measured in the same run, with E the token element size (4, or 2 for bf16) and xbc = [x | B | C]:
 * <pre>
 *   forward:            read x, B, C (B·L·(D + 2GN)·E), Δ (B·L·H·E), z (B·L·D·E), A, D (2H·4); write y (B·L·D·E)
 *   forward + backward: the forward's, + read x, B, C, Δ, z, dy (B·L·D·E), A, D;
 *                       write dx, dB, dC, dΔ, dz, dA, dD
 * </pre>
 * (80,085,184 and 215,089,728 bytes at fp32 for the default shape; printed for each run). The chunk input states
 * the forward writes and the backward reads (B·chunks·H·P·N floats, 12.6 MB here), the C·B products and the other
 * workspace are extra traffic of the chunked algorithm, counted by nobody's floor; the SSD is compute-heavy (its
 * chunk products), so the ratio to this floor says less than the scan's does. Prints a table and one
 * {@code BENCH {json}} line per row.
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -cp ... org.ssmpeft.runtime.cuda.bench.SsdBench [B L H P G N Q [reps]]
 * </pre>
 */
public final class SsdBench {

    /** mamba_ssm's Triton {@code mamba_chunk_scan_combined} on an H200, same shape (D and z), ms. */
    static final double MAMBA_SSM_FWD_F32 = 0.98, MAMBA_SSM_FWD_BF16 = 1.11;
    static final double MAMBA_SSM_FWDBWD_F32 = 4.44, MAMBA_SSM_FWDBWD_BF16 = 4.86;
    /** CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE (cuda.h): the L2's bytes. */
    private static final int L2_CACHE_SIZE = 38;
    private static final int BURST = PassTimer.BURST;

    private SsdBench() {
    }

    public static void main(String[] args) throws Exception {
        int[] v = {4, 1024, 24, 64, 1, 128, 256, 100};
        if (args.length > v.length) {
            throw new IllegalArgumentException("usage: SsdBench [B L H P G N Q [reps]]; found " + args.length
                    + " arguments");
        }
        for (int i = 0; i < args.length; i++) {
            v[i] = BenchOptions.whole("argument " + (i + 1) + " (B L H P G N Q reps)", args[i]);
        }
        SsdShape shape = new SsdShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        int reps = v[7];
        if (reps < BURST) {
            throw new IllegalArgumentException("reps must be >= " + BURST + ", found " + reps);
        }
        try (CudaContext ctx = CudaContext.open(0)) {
            System.out.println("device: " + ctx.deviceName() + " (" + ctx.architecture() + "), driver API "
                    + ctx.driver().driverVersion() + ", NVRTC " + ctx.nvrtc().version());
            double copyGBs = ScanBench.copyBandwidth(ctx);
            System.out.printf(Locale.ROOT, "copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s%n",
                    copyGBs);
            long l2 = ctx.attribute(L2_CACHE_SIZE);
            System.out.printf(Locale.ROOT, "shape: B %d, L %d, H %d, P %d (D %d), G %d, N %d, chunk %d (%d chunks);"
                            + " D skip and z gate; L2 %.1f MB%n", shape.batch(), shape.len(), shape.heads(),
                    shape.headDim(), shape.dInner(), shape.groups(), shape.states(), shape.chunk(), shape.chunks(),
                    l2 / 1e6);
            SsdKernels kernels = new SsdKernels(ctx);
            // the card leaves its idle clocks only after some work: a discarded round first
            run(ctx, kernels, Precision.FLOAT32, shape, Math.max(BURST, reps / 4), copyGBs, l2, false);
            List<String> rows = new ArrayList<>();
            for (Precision p : Precision.values()) {
                rows.addAll(run(ctx, kernels, p, shape, reps, copyGBs, l2, true));
            }
            System.out.println();
            System.out.println("pass               precision  median ms   min ms   b2b ms    floor us  x floor"
                    + "  mamba_ssm ms  speed-up");
            rows.forEach(System.out::println);
        }
    }

    /** Bytes that must move once: {forward, forward + backward}. */
    static long[] floorBytes(SsdShape s, int tokenBytes) {
        long m = (long) s.batch() * s.len();
        long xbc = m * (s.dInner() + 2L * s.groups() * s.states()) * tokenBytes;
        long dt = m * s.heads() * tokenBytes;
        long dTokens = m * s.dInner() * tokenBytes; // z, y, dy, dz: (B·L, D) each
        long params = 2L * s.heads() * 4; // A and D, or dA and dD
        long forward = xbc + dt + dTokens + params + dTokens;
        long backwardReads = xbc + dt + dTokens + dTokens + params;
        long backwardWrites = xbc + dt + dTokens + params;
        return new long[] {forward, forward + backwardReads + backwardWrites};
    }

    /** One input set: token tensors in the precision's type (xbc packed), A and D float32. */
    private record Inputs(DeviceBuffer xbc, DeviceBuffer dt, DeviceBuffer z, DeviceBuffer dy, DeviceBuffer negA,
                          DeviceBuffer skip) {
    }

    private static List<String> run(CudaContext ctx, SsdKernels k, Precision p, SsdShape s, int reps, double copyGBs,
                                    long l2, boolean report) {
        long m = (long) s.batch() * s.len();
        int d = s.dInner(), h = s.heads(), ldx = d + 2 * s.groups() * s.states();
        int tb = p.bytes();
        long setBytes = (m * ldx + m * h + 2 * m * d) * tb;
        int sets = (int) Math.max(3, (3 * l2 + setBytes - 1) / setBytes);
        List<String> out = new ArrayList<>();
        try (DeviceArena a = ctx.arena()) {
            Random r = new Random(1);
            Inputs[] in = new Inputs[sets];
            for (int i = 0; i < sets; i++) {
                float[] xbc = randn(r, m * ldx, 0.5f), z = randn(r, m * d, 0.5f), dy = randn(r, m * d, 1f);
                float[] dt = new float[Math.toIntExact(m * h)];
                double lo = Math.log(0.001), hi = Math.log(0.1);
                for (int j = 0; j < dt.length; j++) {
                    dt[j] = (float) Math.exp(lo + (hi - lo) * r.nextDouble());
                }
                float[] negA = new float[h], skip = new float[h];
                for (int j = 0; j < h; j++) {
                    negA[j] = (float) -Math.exp(-1 + 2.5 * r.nextDouble());
                    skip[j] = (float) (0.5 + r.nextDouble());
                }
                in[i] = new Inputs(p.upload(a, xbc), p.upload(a, dt), p.upload(a, z), p.upload(a, dy),
                        a.upload(negA), a.upload(skip));
            }
            DeviceBuffer y = a.allocate(m * d * tb), ck = a.allocateFloats(s.checkpointFloats());
            DeviceBuffer fwdWork = a.allocateFloats(SsdKernels.forwardWorkFloats(s));
            DeviceBuffer bwdWork = a.allocateFloats(SsdKernels.backwardWorkFloats(s));
            DeviceBuffer dxbc = a.allocate(m * ldx * tb), ddt = a.allocate(m * h * tb), dz = a.allocate(m * d * tb);
            DeviceBuffer dA = a.allocateFloats(h), dD = a.allocateFloats(h);
            SsdOperands[] ops = new SsdOperands[sets];
            for (int i = 0; i < sets; i++) {
                ops[i] = SsdOperands.packed(s, in[i].xbc.address(), in[i].dt.address(), in[i].negA.address(),
                        in[i].skip.address()).withGate(in[i].z.address(), d, 0);
            }
            var g = new SsdKernels.Gradients(dxbc.address(), ldx, ddt.address(), dz.address(), dA.address(),
                    dD.address(), 0, 0, 0);
            IntConsumer forward = set -> k.forward(p, s, ops[set], 0, ck.address(), fwdWork.address(), y.address());
            IntConsumer backward = set -> k.backward(p, s, ops[set], ck.address(), in[set].dy.address(), g,
                    bwdWork.address());
            IntConsumer both = set -> {
                forward.accept(set);
                backward.accept(set);
            };
            double[] fwd = PassTimer.each(ctx, reps, sets, null, forward);
            double[] fwdBwd = PassTimer.each(ctx, reps, sets, null, both);
            double[] fwdBurst = PassTimer.bursts(ctx, reps, sets, forward);
            double[] bothBurst = PassTimer.bursts(ctx, reps, sets, both);
            double[] bwd = PassTimer.each(ctx, reps, sets, forward, backward);
            requireFinite("y", p.read(y, (int) Math.min(4096, m * d)));
            requireFinite("dxbc", p.read(dxbc, (int) Math.min(4096, m * ldx)));
            requireFinite("ddt", p.read(ddt, (int) Math.min(4096, m * h)));
            if (!report) {
                return out;
            }
            long[] bytes = floorBytes(s, tb);
            System.out.printf(Locale.ROOT, "%s: %d input sets of %,d bytes; floor bytes forward %,d, forward +"
                    + " backward %,d%n", p, sets, setBytes, bytes[0], bytes[1]);
            double[] anchors = p == Precision.FLOAT32
                    ? new double[] {MAMBA_SSM_FWD_F32, MAMBA_SSM_FWDBWD_F32}
                    : new double[] {MAMBA_SSM_FWD_BF16, MAMBA_SSM_FWDBWD_BF16};
            boolean anchorShape = s.equals(new SsdShape(4, 1024, 24, 64, 1, 128, 256));
            out.add(row("forward", p, fwd, fwdBurst, bytes[0], copyGBs, anchorShape ? anchors[0] : Double.NaN, s));
            out.add(row("forward+backward", p, fwdBwd, bothBurst, bytes[1], copyGBs,
                    anchorShape ? anchors[1] : Double.NaN, s));
            out.add(row("backward", p, bwd, null, bytes[1] - bytes[0], copyGBs, Double.NaN, s));
        }
        return out;
    }

    private static void requireFinite(String name, float[] values) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw new IllegalStateException("the SSD scan wrote a non-finite " + name + ": " + v);
            }
        }
    }

    private static String row(String pass, Precision p, double[] t, double[] burst, long bytes, double copyGBs,
                              double anchor, SsdShape s) {
        double med = ScanBench.median(t), min = Arrays.stream(t).min().orElse(Double.NaN);
        double burstMed = burst == null || burst.length == 0 ? Double.NaN : ScanBench.median(burst);
        double floorUs = bytes / (copyGBs * 1e9) * 1e6;
        double ratio = med * 1e3 / floorUs;
        double speedup = anchor / med;
        System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"ssd\",\"pass\":\"%s\",\"precision\":\"%s\",\"batch\":%d,"
                        + "\"len\":%d,\"heads\":%d,\"head_dim\":%d,\"groups\":%d,\"states\":%d,\"chunk\":%d,"
                        + "\"median_ms\":%.4f,\"min_ms\":%.4f,\"back_to_back_ms\":%s,\"reps\":%d,\"bytes\":%d,"
                        + "\"copy_gb_s\":%.0f,\"floor_us\":%.1f,\"x_floor\":%.2f,\"mamba_ssm_ms\":%s,"
                        + "\"speedup\":%s}%n",
                pass, p, s.batch(), s.len(), s.heads(), s.headDim(), s.groups(), s.states(), s.chunk(), med, min,
                BenchSetup.json(burstMed, "%.4f"), t.length, bytes, copyGBs, floorUs, ratio,
                BenchSetup.json(anchor, "%.2f"), BenchSetup.json(speedup, "%.2f"));
        return String.format(Locale.ROOT, "%-18s %-9s %9.4f %8.4f %8s %11.1f %8.2f %13s %9s", pass, p, med, min,
                Double.isNaN(burstMed) ? "-" : String.format(Locale.ROOT, "%.4f", burstMed), floorUs, ratio,
                Double.isNaN(anchor) ? "-" : String.valueOf(anchor),
                Double.isNaN(speedup) ? "-" : String.format(Locale.ROOT, "%.2fx", speedup));
    }

    private static float[] randn(Random r, long count, float scale) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return v;
    }
}
