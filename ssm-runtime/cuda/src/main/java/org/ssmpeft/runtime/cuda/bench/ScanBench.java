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
import org.ssmpeft.runtime.cuda.scan.ScanLayout;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * The selective-scan benchmark (issue: CUDA part 1): B 4, D 1536, L 1024, N 16, with D skip and z gate, float32 and
 * bf16 token tensors, forward and forward + backward; the median of timed repetitions after warm-up, each timed
 * with a pair of CUDA events, over rotating input sets (each larger than the 60 MB L2). The memory-traffic floor
 * is the bytes that must move once over the device-to-device copy bandwidth measured in the same run:
 * <pre>
 *   forward:            read u, Δ, z, B, C, A, D; write y
 *   forward + backward: the forward's, + read u, Δ, z, dy, B, C, A, D; write du, dΔ, dz, dB, dC, dA, dD
 * </pre>
 * (101,292,032 and 278,710,272 bytes at fp32; token tensors at 2 bytes for bf16). The checkpoints the training
 * forward writes and the backward reads (1/32 of the states at the tile boundaries) and the partial sums are
 * extra traffic of this design, counted by nobody's floor. Prints a table and one {@code BENCH {json}} line per row.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.ssmpeft.runtime.cuda.bench.ScanBench [B D L N [reps]]</pre>
 */
public final class ScanBench {

    /** mamba_ssm's fused CUDA scan on an H200, same shape (docs/reference/anchors.md §5), ms. */
    static final double MAMBA_SSM_FWD_F32 = 0.263, MAMBA_SSM_FWD_BF16 = 0.143;
    static final double MAMBA_SSM_FWDBWD_F32 = 0.964, MAMBA_SSM_FWDBWD_BF16 = 0.850;
    private static final int BURST = PassTimer.BURST;

    private ScanBench() {
    }

    public static void main(String[] args) throws Exception {
        boolean sweep = args.length > 0 && args[0].equals("sweep");
        if (sweep) {
            args = Arrays.copyOfRange(args, 1, args.length);
        }
        int b = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int d = args.length > 1 ? Integer.parseInt(args[1]) : 1536;
        int l = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
        int n = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        int reps = args.length > 4 ? Integer.parseInt(args[4]) : 200;
        try (CudaContext ctx = CudaContext.open(0)) {
            System.out.println("device: " + ctx.deviceName() + " (" + ctx.architecture() + "), driver API "
                    + ctx.driver().driverVersion() + ", NVRTC " + ctx.nvrtc().version());
            double copyGBs = copyBandwidth(ctx);
            System.out.printf(Locale.ROOT, "copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s%n",
                    copyGBs);
            ScanShape shape = new ScanShape(b, l, d, n, 0);
            // sweep: every compiled layout for this N, forward and backward each in that layout
            List<SelectiveScanKernels> launchers = new ArrayList<>();
            if (sweep) {
                for (ScanLayout layout : ScanLayout.candidates(n)) {
                    launchers.add(new SelectiveScanKernels(ctx, layout, layout.single()));
                }
            } else {
                launchers.add(new SelectiveScanKernels(ctx));
            }
            // the card leaves its idle clocks only after some work: a discarded round first
            run(ctx, launchers.getFirst(), Precision.FLOAT32, shape, 100, copyGBs);
            List<String> rows = new ArrayList<>();
            for (SelectiveScanKernels kernels : launchers) {
                for (Precision p : Precision.values()) {
                    rows.addAll(run(ctx, kernels, p, shape, reps, copyGBs));
                }
            }
            System.out.println();
            System.out.println("pass               precision  median ms   min ms  b2b ms   floor us  x floor  mamba_ssm ms"
                    + "  speed-up  layouts (fwd/bwd)");
            rows.forEach(System.out::println);
        }
    }

    static double copyBandwidth(CudaContext ctx) {
        long bytes = 1L << 30;
        try (DeviceArena a = ctx.arena()) {
            DeviceBuffer src = a.allocate(bytes), dst = a.allocate(bytes);
            src.fill32(0x3f800000);
            double[] t = new double[20];
            for (int i = -3; i < t.length; i++) {
                float ms = ctx.time(() -> ctx.driver().copyDeviceToDeviceAsync(dst.address(), src.address(), bytes,
                        ctx.stream()));
                if (i >= 0) {
                    t[i] = ms;
                }
            }
            return 2.0 * bytes / (median(t) * 1e-3) / 1e9;
        }
    }

    /** One input set: token tensors in the precision's type, parameters float32, outputs and gradients. */
    private record Inputs(DeviceBuffer x, DeviceBuffer dt, DeviceBuffer bc, DeviceBuffer z, DeviceBuffer dy,
                          DeviceBuffer negA, DeviceBuffer skip) {
    }

    private static List<String> run(CudaContext ctx, SelectiveScanKernels k, Precision p, ScanShape s, int reps,
                                    double copyGBs) {
        int b = s.batch(), l = s.len(), d = s.channels(), n = s.states();
        long m = (long) b * l;
        int sets = 3;
        List<String> out = new ArrayList<>();
        try (DeviceArena a = ctx.arena()) {
            Random r = new Random(1);
            Inputs[] in = new Inputs[sets];
            for (int i = 0; i < sets; i++) {
                float[] x = randn(r, m * d, 1), dt = randn(r, m * d, 1), bc = randn(r, m * 2 * n, 1);
                float[] z = randn(r, m * d, 1), dy = randn(r, m * d, 1);
                for (int j = 0; j < dt.length; j++) {
                    dt[j] = (float) Math.log1p(Math.exp(dt[j] - 3));
                }
                float[] negA = randn(r, (long) d * n, 0.5f);
                for (int j = 0; j < negA.length; j++) {
                    negA[j] = (float) -Math.exp(negA[j]);
                }
                float[] skip = randn(r, d, 0.1f);
                for (int j = 0; j < skip.length; j++) {
                    skip[j] += 1;
                }
                in[i] = new Inputs(p.upload(a, x), p.upload(a, dt), p.upload(a, bc), p.upload(a, z),
                        p.upload(a, dy), a.upload(negA), a.upload(skip));
            }
            int tb = p.bytes();
            DeviceBuffer y = a.allocate(m * d * tb), ck = a.allocateFloats(SelectiveScanKernels.checkpointFloats(s));
            DeviceBuffer dx = a.allocate(m * d * tb), ddt = a.allocate(m * d * tb), dz = a.allocate(m * d * tb);
            DeviceBuffer dbc = a.allocate(m * 2 * n * tb), dA = a.allocateFloats((long) d * n);
            DeviceBuffer dD = a.allocateFloats(d), work = a.allocateFloats(k.workFloats(s));
            ScanOperands[] ops = new ScanOperands[sets];
            for (int i = 0; i < sets; i++) {
                ops[i] = ScanOperands.plain(in[i].x.address(), in[i].dt.address(), in[i].negA.address(),
                        in[i].bc.address(), 2 * n, 0, in[i].skip.address(), in[i].z.address(), d, 0);
            }
            var g = new SelectiveScanKernels.Gradients(dx.address(), ddt.address(), dz.address(), dbc.address(), 0,
                    dA.address(), 0, dD.address(), 0, 0, 0, 0);
            IntConsumer forward = set -> k.forward(p, s, ops[set], 0, 0, 0, y.address());
            IntConsumer training = set -> k.forward(p, s, ops[set], 0, 0, ck.address(), y.address());
            IntConsumer backward = set -> k.backward(p, s, ops[set], ck.address(), in[set].dy.address(), g,
                    work.address());
            IntConsumer both = set -> {
                training.accept(set);
                backward.accept(set);
            };
            double[] fwd = PassTimer.each(ctx, reps, sets, null, forward);
            double[] fwdBwd = PassTimer.each(ctx, reps, sets, null, both);
            double[] fwdBurst = PassTimer.bursts(ctx, reps, sets, forward);
            double[] bothBurst = PassTimer.bursts(ctx, reps, sets, both);
            double[] bwd = PassTimer.each(ctx, reps, sets, training, backward);
            float[] check = p.read(y, 1024);
            for (float v : check) {
                if (!Float.isFinite(v)) {
                    throw new IllegalStateException("the scan wrote a non-finite output: " + v);
                }
            }
            long tokenBytes = (long) tb;
            long fwdBytes = tokenBytes * (4L * m * d + 2L * m * n) + 4L * ((long) d * n + d);
            long bwdBytes = fwdBytes + tokenBytes * (4L * m * d + 2L * m * n) + 4L * ((long) d * n + d)
                    + tokenBytes * (3L * m * d + 2L * m * n) + 4L * ((long) d * n + d);
            double[] anchors = p == Precision.FLOAT32
                    ? new double[] {MAMBA_SSM_FWD_F32, MAMBA_SSM_FWDBWD_F32}
                    : new double[] {MAMBA_SSM_FWD_BF16, MAMBA_SSM_FWDBWD_BF16};
            boolean anchorShape = b == 4 && d == 1536 && l == 1024 && n == 16;
            String layouts = k.forwardLayout(s) + "/" + k.backwardLayout(s);
            out.add(row("forward", p, fwd, fwdBurst, fwdBytes, copyGBs, anchorShape ? anchors[0] : Double.NaN, s,
                    layouts));
            out.add(row("forward+backward", p, fwdBwd, bothBurst, bwdBytes, copyGBs,
                    anchorShape ? anchors[1] : Double.NaN, s, layouts));
            out.add(row("backward", p, bwd, null, bwdBytes - fwdBytes, copyGBs, Double.NaN, s, layouts));
        }
        return out;
    }

    private static String row(String pass, Precision p, double[] t, double[] burst, long bytes, double copyGBs,
                              double anchor, ScanShape s, String layouts) {
        double med = median(t), min = Arrays.stream(t).min().orElse(Double.NaN);
        double burstMed = burst == null || burst.length == 0 ? Double.NaN : median(burst);
        double floorUs = bytes / (copyGBs * 1e9) * 1e6;
        double ratio = med * 1e3 / floorUs;
        double speedup = anchor / med;
        System.out.printf(Locale.ROOT, "BENCH {\"pass\":\"%s\",\"precision\":\"%s\",\"batch\":%d,\"channels\":%d,"
                        + "\"len\":%d,\"states\":%d,\"median_ms\":%.4f,\"min_ms\":%.4f,\"back_to_back_ms\":%s,"
                        + "\"reps\":%d,\"bytes\":%d,"
                        + "\"copy_gb_s\":%.0f,\"floor_us\":%.1f,\"x_floor\":%.2f,\"mamba_ssm_ms\":%s,\"speedup\":%s,"
                        + "\"layouts\":\"%s\"}%n",
                pass, p, s.batch(), s.channels(), s.len(), s.states(), med, min,
                Double.isNaN(burstMed) ? "null" : String.format(Locale.ROOT, "%.4f", burstMed), t.length, bytes,
                copyGBs, floorUs,
                ratio, Double.isNaN(anchor) ? "null" : anchor, Double.isNaN(speedup) ? "null"
                        : String.format(Locale.ROOT, "%.2f", speedup), layouts);
        return String.format(Locale.ROOT, "%-18s %-9s %9.4f %8.4f %8s %10.1f %8.2f %13s %9s  %s", pass, p, med, min,
                Double.isNaN(burstMed) ? "-" : String.format(Locale.ROOT, "%.4f", burstMed), floorUs, ratio, Double.isNaN(anchor) ? "-" : String.valueOf(anchor),
                Double.isNaN(speedup) ? "-" : String.format(Locale.ROOT, "%.2fx", speedup), layouts);
    }

    private static float[] randn(Random r, long count, float scale) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return v;
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : 0.5 * (c[c.length / 2 - 1] + c[c.length / 2]);
    }
}
