package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GFLOP/s of the three {@link Gemm} kernels on the Mamba-130M linear layers, scalar against Vector API against
 * OpenBLAS's {@code cblas_sgemm} ({@link OpenBlasGemm}, when its optional jars are on the class path), one thread
 * against all, next to the machine's single-precision FMA peak measured by a register-blocked FMA loop (the floor no
 * kernel can beat). Not a unit test; run it from the built classes:
 *
 * <pre>
 * ./mvnw -B -o -q -pl ssm-runtime/cpu -am install -DskipTests
 * ./mvnw -B -o -q -pl ssm-runtime/cpu dependency:build-classpath -DincludeScope=runtime -Dmdep.outputFile=target/cp.txt
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g \
 *     -cp ssm-runtime/cpu/target/classes:$(cat ssm-runtime/cpu/target/cp.txt) org.ssmpeft.runtime.cpu.GemmBench \
 *     [rows=512,2048] [paths=scalar,vector,openblas] [kernels=abT,ab,addAtB] [seconds=1]
 * </pre>
 *
 * Without {@code --add-modules jdk.incubator.vector} only the scalar columns are measured; without the OpenBLAS jars
 * (org.bytedeco:openblas with its platform classifier, org.bytedeco:javacpp) its columns are NaN and the header says
 * why. Each case runs until {@code seconds} have passed (at least once, after a warm-up on a smaller shape) and
 * reports its fastest run. OpenBLAS runs with its thread pool pinned to the thread count of the column
 * ({@code openblas_set_num_threads}). Before a case is timed, OpenBLAS's product is checked against the project
 * kernel's on the same inputs (within float tolerance; a mismatch stops the run). FLOPs are counted as
 * {@code 2·M·in·out} per product. The header and the footer give the load average ({@code /proc/loadavg}).
 */
public final class GemmBench {

    // (in, out) of Mamba-130M: in_proj, x_proj, dt_proj, out_proj, lm_head
    private static final int[][] LAYERS = {{768, 3072}, {1536, 80}, {48, 1536}, {1536, 768}, {768, 50280}};
    private static final String[] LAYER_NAMES = {"in_proj", "x_proj", "dt_proj", "out_proj", "head"};

    private GemmBench() {
    }

    private enum Kernel {
        ABT("abT  y = x·Wᵀ+b"), AB("ab   dX = dY·W"), ADD_ATB("addAtB dW += dYᵀ·X");

        final String label;

        Kernel(String label) {
            this.label = label;
        }
    }

    private record Buffers(float[] x, float[] w, float[] b, float[] y, float[] dx, float[] dw) {
        static Buffers of(int m, int in, int out) {
            var rnd = new SplittableRandom(1);
            return new Buffers(random(rnd, m * in), random(rnd, out * in), random(rnd, out), random(rnd, m * out),
                    new float[m * in], new float[out * in]);
        }
    }

    private static float[] random(SplittableRandom rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return x;
    }

    private enum Impl { SCALAR, VECTOR, OPENBLAS }

    private static void run(Kernel kernel, Impl impl, Parallel par, Buffers buf, int m, int in, int out) {
        if (impl == Impl.OPENBLAS) {
            var blas = OpenBlasGemm.instance();
            blas.setThreads(par.threads());
            switch (kernel) {
                case ABT -> blas.abT(buf.x, 0, in, buf.w, 0, in, buf.b, buf.y, 0, out, m, out, in);
                case AB -> blas.ab(buf.y, 0, out, buf.w, 0, in, buf.dx, 0, in, m, out, in, false);
                case ADD_ATB -> blas.addAtB(buf.y, 0, out, buf.x, 0, in, buf.dw, 0, in, m, out, in);
                default -> throw new IllegalStateException(kernel.name());
            }
            return;
        }
        boolean vector = impl == Impl.VECTOR;
        switch (kernel) {
            case ABT -> {
                if (vector) {
                    GemmVector.abT(par, buf.x, 0, in, buf.w, 0, in, buf.b, buf.y, 0, out, m, out, in);
                } else {
                    GemmScalar.abT(par, buf.x, 0, in, buf.w, 0, in, buf.b, buf.y, 0, out, m, out, in);
                }
            }
            case AB -> {
                if (vector) {
                    GemmVector.nn(par, buf.y, 0, out, 1, buf.w, 0, in, buf.dx, 0, in, m, in, out, false);
                } else {
                    GemmScalar.nn(par, buf.y, 0, out, 1, buf.w, 0, in, buf.dx, 0, in, m, in, out, false);
                }
            }
            case ADD_ATB -> {
                if (vector) {
                    GemmVector.nn(par, buf.y, 0, 1, out, buf.x, 0, in, buf.dw, 0, in, out, in, m, true);
                } else {
                    GemmScalar.nn(par, buf.y, 0, 1, out, buf.x, 0, in, buf.dw, 0, in, out, in, m, true);
                }
            }
            default -> throw new IllegalStateException(kernel.name());
        }
    }

    /** Best GFLOP/s over runs filling {@code seconds}. */
    private static double measure(Kernel kernel, Impl impl, Parallel par, Buffers buf, int m, int in, int out,
                                  double seconds) {
        double flops = 2.0 * m * in * out;
        long best = Long.MAX_VALUE;
        long start = System.nanoTime();
        do {
            long t0 = System.nanoTime();
            run(kernel, impl, par, buf, m, in, out);
            best = Math.min(best, System.nanoTime() - t0);
        } while (System.nanoTime() - start < seconds * 1e9);
        if (impl == Impl.OPENBLAS) {
            // OpenBLAS's idle workers spin for a while after a call: let them fall asleep before the next column
            OpenBlasGemm.instance().setThreads(1);
            sleep(200);
        }
        return flops / best;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * OpenBLAS's product against the project kernel's ({@code reference} path) on the same inputs, in fresh output
     * arrays: every element within {@code 2e-5 · depth · max|a| · max|b| + 1e-5 · |ref|} (depth = the summation
     * length), else an {@link IllegalStateException} naming the case and the worst element. Returns the largest
     * difference relative to the largest reference element.
     */
    private static double check(Kernel kernel, Impl reference, Parallel par, Buffers buf, int m, int in, int out) {
        var mine = new Buffers(buf.x, buf.w, buf.b, new float[m * out], new float[m * in], new float[out * in]);
        var theirs = new Buffers(buf.x, buf.w, buf.b, new float[m * out], new float[m * in], new float[out * in]);
        if (kernel != Kernel.ABT) {
            // dY is the backward's input: the same values in both
            System.arraycopy(buf.y, 0, mine.y, 0, m * out);
            System.arraycopy(buf.y, 0, theirs.y, 0, m * out);
        }
        run(kernel, reference, par, mine, m, in, out);
        run(kernel, Impl.OPENBLAS, par, theirs, m, in, out);
        OpenBlasGemm.instance().setThreads(1);
        float[] want;
        float[] got;
        double bound;
        switch (kernel) {
            case ABT -> {
                want = mine.y;
                got = theirs.y;
                bound = in * maxAbs(buf.x) * maxAbs(buf.w) + maxAbs(buf.b);
            }
            case AB -> {
                want = mine.dx;
                got = theirs.dx;
                bound = out * maxAbs(buf.y) * maxAbs(buf.w);
            }
            case ADD_ATB -> {
                want = mine.dw;
                got = theirs.dw;
                bound = m * maxAbs(buf.y) * maxAbs(buf.x);
            }
            default -> throw new IllegalStateException(kernel.name());
        }
        double worst = 0;
        int worstAt = -1;
        double scale = maxAbs(want);
        if (!(scale > 0)) {
            throw new IllegalStateException("the " + reference + " kernel's " + kernel.label + " is all zero on M=" + m
                    + " (in, out)=(" + in + ", " + out + "): nothing to check against");
        }
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) want[i] - got[i]);
            double tol = 2e-5 * bound + 1e-5 * Math.abs(want[i]);
            if (!(d <= tol)) {
                throw new IllegalStateException(String.format(Locale.ROOT,
                        "OpenBLAS disagrees with the %s kernel on %s M=%d (in, out)=(%d, %d): element %d is %s, "
                        + "expected %s (tolerance %.3g)", reference, kernel.label, m, in, out, i, got[i], want[i],
                        tol));
            }
            if (d > worst) {
                worst = d;
                worstAt = i;
            }
        }
        return worstAt < 0 ? 0 : worst / scale;
    }

    private static double maxAbs(float[] x) {
        double max = 0;
        for (float v : x) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }

    /** The first three fields of /proc/loadavg (1, 5, 15 minutes), or "n/a" where there is none. */
    static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "n/a";
        }
    }

    public static void main(String[] args) {
        int[] rows = {512, 2048};
        List<String> paths = List.of("scalar", "vector", "openblas");
        List<Kernel> kernels = List.of(Kernel.values());
        double seconds = 1;
        for (String arg : args) {
            String[] kv = arg.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("expected key=value (rows, paths, kernels, seconds), found '" + arg
                        + "'");
            }
            switch (kv[0]) {
                case "rows" -> rows = java.util.Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "paths" -> paths = List.of(kv[1].split(","));
                case "kernels" -> {
                    var chosen = new ArrayList<Kernel>();
                    for (String k : kv[1].split(",")) {
                        chosen.add(switch (k) {
                            case "abT" -> Kernel.ABT;
                            case "ab" -> Kernel.AB;
                            case "addAtB" -> Kernel.ADD_ATB;
                            default -> throw new IllegalArgumentException("unknown kernel '" + k
                                    + "'; kernels: abT, ab, addAtB");
                        });
                    }
                    kernels = chosen;
                }
                case "seconds" -> seconds = Double.parseDouble(kv[1]);
                default -> throw new IllegalArgumentException("unknown option '" + kv[0]
                        + "'; options: rows, paths, kernels, seconds");
            }
        }
        boolean vectorAvailable = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        boolean doScalar = paths.contains("scalar");
        boolean doVector = paths.contains("vector") && vectorAvailable;
        var blas = paths.contains("openblas") ? OpenBlasGemm.instance() : null;
        boolean doBlas = blas != null && blas.available();
        Impl reference = doVector ? Impl.VECTOR : Impl.SCALAR;
        int threads = Runtime.getRuntime().availableProcessors();
        var one = new Parallel(new ForkJoinPool(1));
        var all = new Parallel(new ForkJoinPool(threads));

        System.out.printf(Locale.ROOT, "GemmBench: %s, %d threads, Gemm path %s, load average %s (/proc/loadavg)%n",
                Runtime.version(), threads, Gemm.implementation(), loadAverage());
        if (!vectorAvailable) {
            System.out.println("jdk.incubator.vector is not in the boot layer: no vector columns");
        }
        System.out.println("OpenBLAS: " + (blas == null ? "not asked for (paths)" : blas.describe()));

        // Physical floor: the FMA peak of this machine, one thread and all threads.
        double scalarPeak1 = Peak.scalar(one, 1);
        double scalarPeakN = Peak.scalar(all, threads);
        double vectorPeak1 = doVector ? VectorPeak.gflops(one, 1) : Double.NaN;
        double vectorPeakN = doVector ? VectorPeak.gflops(all, threads) : Double.NaN;
        System.out.printf(Locale.ROOT, "FMA peak GFLOP/s: scalar %.1f (1 thread) %.1f (%d threads); "
                + "vector %s %.1f (1 thread) %.1f (%d threads)%n", scalarPeak1, scalarPeakN, threads,
                doVector ? VectorPeak.describe() : "n/a", vectorPeak1, vectorPeakN, threads);

        // Warm-up: every kernel and path on a mid-sized shape so that the JIT has compiled them.
        var warm = Buffers.of(256, 768, 768);
        for (Kernel kernel : kernels) {
            for (Parallel par : List.of(one, all)) {
                if (doScalar) {
                    measure(kernel, Impl.SCALAR, par, warm, 256, 768, 768, 0.3);
                }
                if (doVector) {
                    measure(kernel, Impl.VECTOR, par, warm, 256, 768, 768, 0.3);
                }
                if (doBlas) {
                    measure(kernel, Impl.OPENBLAS, par, warm, 256, 768, 768, 0.3);
                }
            }
        }

        System.out.println();
        String n = threads + "T";
        System.out.printf(Locale.ROOT, "%-20s %5s %-9s %11s | %8s %8s | %8s %8s | %8s %8s | %7s %7s | %7s %7s | %7s %7s"
                + " | %8s%n", "kernel", "M", "layer", "(in, out)", "scal 1T", "scal " + n, "vec 1T", "vec " + n,
                "blas 1T", "blas " + n, "%pk v1T", "%pk v" + n, "%pk b1T", "%pk b" + n, "v/b 1T", "v/b " + n,
                "check");
        for (Kernel kernel : kernels) {
            for (int m : rows) {
                for (int l = 0; l < LAYERS.length; l++) {
                    int in = LAYERS[l][0];
                    int out = LAYERS[l][1];
                    var buf = Buffers.of(m, in, out);
                    double err = doBlas ? check(kernel, reference, all, buf, m, in, out) : Double.NaN;
                    double s1 = doScalar ? measure(kernel, Impl.SCALAR, one, buf, m, in, out, seconds) : Double.NaN;
                    double sn = doScalar ? measure(kernel, Impl.SCALAR, all, buf, m, in, out, seconds) : Double.NaN;
                    double v1 = doVector ? measure(kernel, Impl.VECTOR, one, buf, m, in, out, seconds) : Double.NaN;
                    double vn = doVector ? measure(kernel, Impl.VECTOR, all, buf, m, in, out, seconds) : Double.NaN;
                    double b1 = doBlas ? measure(kernel, Impl.OPENBLAS, one, buf, m, in, out, seconds) : Double.NaN;
                    double bn = doBlas ? measure(kernel, Impl.OPENBLAS, all, buf, m, in, out, seconds) : Double.NaN;
                    System.out.printf(Locale.ROOT,
                            "%-20s %5d %-9s %11s | %8.1f %8.1f | %8.1f %8.1f | %8.1f %8.1f | %6.0f%% %6.0f%% |"
                            + " %6.0f%% %6.0f%% | %6.2fx %6.2fx | %8.1e%n",
                            kernel.label, m, LAYER_NAMES[l], "(" + in + ", " + out + ")", s1, sn, v1, vn, b1, bn,
                            100 * v1 / vectorPeak1, 100 * vn / vectorPeakN, 100 * b1 / vectorPeak1,
                            100 * bn / vectorPeakN, v1 / b1, vn / bn, err);
                }
            }
        }
        System.out.println("GFLOP/s, best run; %pk = against the measured vector FMA peak (v = vector, b = OpenBLAS);"
                + " v/b = vector / OpenBLAS (above 1: the project's kernel is faster); check = largest |OpenBLAS - "
                + reference.name().toLowerCase(Locale.ROOT) + "| / max|" + reference.name().toLowerCase(Locale.ROOT)
                + "| on the case's inputs");
        System.out.println("load average at the end: " + loadAverage());
        System.exit(0);
    }

    /**
     * The machine's single-precision FMA peak in GFLOP/s on {@code threads} threads, as measured for the table: the
     * Vector API loop (widest preferred species) when {@code jdk.incubator.vector} is in the boot layer, else the scalar
     * {@code Math.fma} loop. Takes a few seconds; other benchmarks call it to put their rates against the same floor
     * in the same run.
     */
    public static double peakGflops(int threads) {
        var pool = new ForkJoinPool(threads);
        try {
            var par = new Parallel(pool);
            return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                    ? VectorPeak.gflops(par, threads) : Peak.scalar(par, threads);
        } finally {
            pool.shutdown();
        }
    }

    /** What {@link #peakGflops} measures here, in words. */
    public static String peakDescription() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                ? "Vector API FMA loop, " + VectorPeak.describe() : "scalar Math.fma loop (no jdk.incubator.vector)";
    }

    /** Scalar FMA peak: 12 independent {@code Math.fma} chains per thread. */
    private static final class Peak {
        private static final long ITERS = 100_000_000L;

        static double scalar(Parallel par, int threads) {
            for (int i = 0; i < 20; i++) {
                sink(chains(ITERS / 100));
            }
            long t0 = System.nanoTime();
            par.forEach(threads, t -> sink(chains(ITERS)));
            return 2.0 * 12 * ITERS * threads / (System.nanoTime() - t0);
        }

        private static float chains(long iters) {
            float a0 = 1f, a1 = 2f, a2 = 3f, a3 = 4f, a4 = 5f, a5 = 6f, a6 = 7f, a7 = 8f, a8 = 9f, a9 = 10f;
            float a10 = 11f, a11 = 12f;
            float x = 0.999999f;
            float y = 1e-6f;
            for (long i = 0; i < iters; i++) {
                a0 = Math.fma(a0, x, y);
                a1 = Math.fma(a1, x, y);
                a2 = Math.fma(a2, x, y);
                a3 = Math.fma(a3, x, y);
                a4 = Math.fma(a4, x, y);
                a5 = Math.fma(a5, x, y);
                a6 = Math.fma(a6, x, y);
                a7 = Math.fma(a7, x, y);
                a8 = Math.fma(a8, x, y);
                a9 = Math.fma(a9, x, y);
                a10 = Math.fma(a10, x, y);
                a11 = Math.fma(a11, x, y);
            }
            return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        }
    }

    private static volatile float sinkHole;

    private static void sink(float v) {
        sinkHole += v;
    }

    /** Vector FMA peak: 12 independent FloatVector FMA chains per thread (loaded only with the incubator module). */
    private static final class VectorPeak {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final long ITERS = 50_000_000L;

        static String describe() {
            return S.vectorBitSize() + "-bit";
        }

        static double gflops(Parallel par, int threads) {
            for (int i = 0; i < 20; i++) {
                sink(chains(ITERS / 100));
            }
            long t0 = System.nanoTime();
            par.forEach(threads, t -> sink(chains(ITERS)));
            return 2.0 * 12 * S.length() * ITERS * threads / (System.nanoTime() - t0);
        }

        private static float chains(long iters) {
            FloatVector x = FloatVector.broadcast(S, 0.999999f);
            FloatVector y = FloatVector.broadcast(S, 1e-6f);
            FloatVector a0 = FloatVector.broadcast(S, 1f);
            FloatVector a1 = FloatVector.broadcast(S, 2f);
            FloatVector a2 = FloatVector.broadcast(S, 3f);
            FloatVector a3 = FloatVector.broadcast(S, 4f);
            FloatVector a4 = FloatVector.broadcast(S, 5f);
            FloatVector a5 = FloatVector.broadcast(S, 6f);
            FloatVector a6 = FloatVector.broadcast(S, 7f);
            FloatVector a7 = FloatVector.broadcast(S, 8f);
            FloatVector a8 = FloatVector.broadcast(S, 9f);
            FloatVector a9 = FloatVector.broadcast(S, 10f);
            FloatVector a10 = FloatVector.broadcast(S, 11f);
            FloatVector a11 = FloatVector.broadcast(S, 12f);
            for (long i = 0; i < iters; i++) {
                a0 = a0.fma(x, y);
                a1 = a1.fma(x, y);
                a2 = a2.fma(x, y);
                a3 = a3.fma(x, y);
                a4 = a4.fma(x, y);
                a5 = a5.fma(x, y);
                a6 = a6.fma(x, y);
                a7 = a7.fma(x, y);
                a8 = a8.fma(x, y);
                a9 = a9.fma(x, y);
                a10 = a10.fma(x, y);
                a11 = a11.fma(x, y);
            }
            return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                    .lane(0);
        }
    }
}
