package org.ssmpeft.runtime.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuProfile;
import org.ssmpeft.runtime.cpu.GemmBench;

/**
 * cpu against djl in one run, same machine, same shapes: tokens/s of the forward and of forward + backward
 * ({@code lossAndGradients}) with a State-offset Tuning (h) adapter on all layers and with LoRA (r 8 on in_proj,
 * x_proj, dt_proj, out_proj; on Mamba-2 in_proj and out_proj), on random models of the mamba-tiny fixture's config, of
 * the Mamba-130M shape and of a Mamba-2 130M shape (24 layers, d_model 768, head_dim 64, N 128); warm-up
 * calls, then the median of the measured ones, the ratio cpu / djl, and per case the peak Java heap and peak resident
 * set size (sampled every 2 ms; djl's tensors live in native memory, so its heap is small and its RSS is not).
 *
 * <p>Against the physical floor: every row also gives the matrix-multiply FLOPs of one token ({@link #flopsPerToken}),
 * the GFLOP/s that the measured tokens/s amount to, and that as a share of the machine's FMA peak, measured in the same
 * run by {@link GemmBench#peakGflops} on all processors (before and after the table; the higher of the two counts).
 *
 * <p>Needs the method modules and, for djl, {@code pytorch-native-cpu} on the class path; the examples fat jar has the
 * methods: {@code java -cp examples/target/peft.jar:<pytorch-native-cpu jar> org.ssmpeft.runtime.bench.BackendBench}.
 * Options: {@code --warmup N} (1), {@code --iterations N} (3), {@code --length L} (512), {@code --layers-130m N}
 * (24; fewer when the 130M shape does not fit the machine or the time), {@code --only tiny|130m|mamba2-130m},
 * {@code --batches 1,4},
 * {@code --backends cpu,djl} (both; {@code cpu} alone for shapes whose autograd memory djl cannot hold). Each row's
 * time per call goes to stderr as it is measured.
 */
public final class BackendBench {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    /** A model to measure: its weights (either family), the adapter shape, and the FLOPs of a token per workload. */
    private record Shape(String name, ModelSpec weights, ModelShape shape, ToDoubleFunction<Extra> flops,
                         List<Workload> workloads) {
    }

    /** What a row measures; {@code adapterYaml} null for the plain forward. */
    private record Workload(String name, String adapterYaml, Extra extra) {
    }

    /** The adapter's own matrix products, beyond the base model's. */
    enum Extra { NONE, STATE_OFFSET_H, LORA_R8, LORA_R8_MAMBA2 }

    private static final int LORA_RANK = 8;

    private record Result(double tokensPerSecond, double peakHeapMb, double peakRssMb, double secondsPerCall) {
    }

    private BackendBench() {
    }

    public static void main(String[] args) throws Exception {
        int warmup = intOption(args, "--warmup", 1);
        int iterations = intOption(args, "--iterations", 3);
        int length = intOption(args, "--length", 512);
        int layers130m = intOption(args, "--layers-130m", 24);
        String only = stringOption(args, "--only").orElse("all");
        List<String> chosen = List.of(stringOption(args, "--backends").orElse("cpu,djl").split(","));
        for (String b : chosen) {
            if (!b.equals("cpu") && !b.equals("djl")) {
                throw new IllegalArgumentException("--backends takes cpu, djl or both (cpu,djl); found '" + b + "'");
            }
        }
        boolean runCpu = chosen.contains("cpu");
        boolean runDjl = chosen.contains("djl");

        List<Workload> workloads = List.of(
                new Workload("forward", null, Extra.NONE),
                new Workload("fwd+bwd, state-offset h", """
                        method: state-offset
                        variant: h
                        layers: all
                        """, Extra.STATE_OFFSET_H),
                new Workload("fwd+bwd, LoRA r 8", """
                        method: lora
                        rank: %d
                        alpha: 16
                        targets: [in_proj, x_proj, dt_proj, out_proj]
                        layers: all
                        """.formatted(LORA_RANK), Extra.LORA_R8));
        // Mamba-2 has no x_proj or dt_proj: its LoRA row covers in_proj and out_proj
        List<Workload> workloads2 = List.of(workloads.get(0), workloads.get(1),
                new Workload("fwd+bwd, LoRA r 8", """
                        method: lora
                        rank: %d
                        alpha: 16
                        targets: [in_proj, out_proj]
                        layers: all
                        """.formatted(LORA_RANK), Extra.LORA_R8_MAMBA2));
        List<Shape> shapes = new ArrayList<>();
        if (only.equals("all") || only.equals("tiny")) {
            MambaConfig c = MambaConfig.of(256, 64, 16, 2);
            shapes.add(new Shape("mamba-tiny (2 layers, d 64, N 16, V 256)", randomWeights(c, 42), c.toShape(),
                    e -> flopsPerToken(c, e), workloads));
        }
        if (only.equals("all") || only.equals("130m")) {
            MambaConfig c = MambaConfig.of(50280, 768, 16, layers130m);
            shapes.add(new Shape("Mamba-130M shape (" + layers130m + (layers130m == 24 ? "" : " of 24")
                    + " layers, d 768, N 16, V 50280)", randomWeights(c, 42), c.toShape(), e -> flopsPerToken(c, e),
                    workloads));
        }
        if (only.equals("all") || only.equals("mamba2-130m")) {
            Mamba2Config c = Mamba2Config.of(50280, 768, 128, layers130m, 64, 1, 256);
            shapes.add(new Shape("Mamba-2 130M shape (" + layers130m + (layers130m == 24 ? "" : " of 24")
                    + " layers, d 768, head_dim 64, 24 heads, N 128, chunk 256, V 50280)", randomMamba2Weights(c, 42),
                    c.toShape(), e -> flopsPerToken(c, e), workloads2));
        }
        int[] batches = Arrays.stream(stringOption(args, "--batches").orElse("1,4").split(","))
                .mapToInt(Integer::parseInt).toArray();

        Backends backends = Backends.load();
        BackendProvider cpu = backends.get("cpu");
        BackendProvider djl = backends.get("djl");
        Optional<String> djlMissing = runDjl ? djl.unavailableReason() : Optional.empty();
        int threads = Runtime.getRuntime().availableProcessors();
        System.out.printf(Locale.ROOT, "java %s, %d processors, max heap %d MB; L = %d, %d warm-up + %d measured calls,"
                        + " median; backends %s; load average %s%n", System.getProperty("java.version"), threads,
                Runtime.getRuntime().maxMemory() >> 20, length, warmup, iterations, String.join(",", chosen),
                loadAverage());
        djlMissing.ifPresent(r -> System.out.println("djl unavailable, only cpu is measured: " + r));
        runDjl &= djlMissing.isEmpty();
        double peakBefore = GemmBench.peakGflops(threads);
        System.out.printf(Locale.ROOT, "FMA peak (%s, %d threads): %.1f GFLOP/s%n", GemmBench.peakDescription(),
                threads, peakBefore);
        AdapterFactory factory = new AdapterFactory(PeftMethods.load());

        List<Row> rows = new ArrayList<>();
        for (Shape shape : shapes) {
            ModelSpec weights = shape.weights();
            SsmModel cpuModel = runCpu ? cpu.create(weights) : null;
            SsmModel djlModel = runDjl ? djl.create(weights) : null;
            try {
                for (int batch : batches) {
                    int[][] tokens = tokens(batch, length, shape.shape().vocab(), 7);
                    for (Workload w : shape.workloads()) {
                        AdapterSet adapters = w.adapterYaml() == null ? new AdapterSet(shape.shape())
                                : factory.create(factory.reader().parse(w.adapterYaml(), ConfigFormat.YAML),
                                shape.shape(), 3);
                        String what = shape.name() + ", B " + batch + ", " + w.name();
                        Result c = cpuModel == null ? null : measure("cpu", what,
                                call(cpuModel, tokens, adapters, w), warmup, iterations, batch * length);
                        Result d = djlModel == null ? null : measure("djl", what,
                                call(djlModel, tokens, adapters, w), warmup, iterations, batch * length);
                        rows.add(new Row(shape.name(), batch, w.name(), shape.flops().applyAsDouble(w.extra()), c,
                                d));
                    }
                }
            } finally {
                if (djlModel instanceof AutoCloseable closeable) {
                    closeable.close();
                }
            }
        }
        double peakAfter = GemmBench.peakGflops(threads);
        double peak = Math.max(peakBefore, peakAfter);
        System.out.printf(Locale.ROOT, "FMA peak again after the table: %.1f GFLOP/s; %% peak below is against %.1f;"
                + " load average %s%n", peakAfter, peak, loadAverage());

        System.out.println();
        System.out.println("| model | B | work | MFLOP/token | cpu tokens/s | cpu GFLOP/s (% peak) | djl tokens/s |"
                + " djl GFLOP/s (% peak) | cpu / djl | cpu peak heap / RSS (MB) | djl peak heap / RSS (MB) |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %d | %s | %.3g | %s | %s | %s | %s | %s | %s | %s |%n",
                    r.model(), r.batch(), r.work(), r.flopsPerToken() / 1e6, tokens(r.cpu()),
                    rate(r.cpu(), r.flopsPerToken(), peak), tokens(r.djl()), rate(r.djl(), r.flopsPerToken(), peak),
                    r.cpu() == null || r.djl() == null ? "-"
                            : "%.3g".formatted(r.cpu().tokensPerSecond() / r.djl().tokensPerSecond()),
                    memory(r.cpu()), memory(r.djl()));
        }
        if (!PROFILES.isEmpty()) {
            System.out.println();
            System.out.println("cpu profile (-Dssmpeft.cpu.profile=true): ms per call (share of the call) per part,"
                    + " the calling thread's wall time around each part, summed over the layers:");
            StringBuilder head = new StringBuilder("| row | ms per call |");
            StringBuilder rule = new StringBuilder("| --- | --- |");
            for (CpuProfile.Part p : CpuProfile.Part.values()) {
                head.append(' ').append(p.name().toLowerCase(Locale.ROOT)).append(" |");
                rule.append(" --- |");
            }
            System.out.println(head);
            System.out.println(rule);
            PROFILES.forEach(System.out::println);
        }
        System.exit(0); // the cpu backend's fork/join pool and PyTorch's threads need not be waited for
    }

    private record Row(String model, int batch, String work, double flopsPerToken, Result cpu, Result djl) {
    }

    private static String tokens(Result r) {
        return r == null ? "-" : r.tokensPerSecond() >= 100 ? "%.0f".formatted(r.tokensPerSecond())
                : "%.3g".formatted(r.tokensPerSecond());
    }

    private static String rate(Result r, double flopsPerToken, double peak) {
        if (r == null) {
            return "-";
        }
        double gflops = r.tokensPerSecond() * flopsPerToken / 1e9;
        return String.format(Locale.ROOT, "%.3g (%.2g%%)", gflops, 100 * gflops / peak);
    }

    private static String memory(Result r) {
        return r == null ? "-" : "%.0f / %.0f".formatted(r.peakHeapMb(), r.peakRssMb());
    }

    /**
     * Matrix-multiply FLOPs (2 per multiply-add) per token of one call of {@code extra}'s workload. Forward: in_proj,
     * x_proj, dt_proj and out_proj of every layer, and the head, plus the adapter's own products (LoRA: x·Aᵀ and
     * (x·Aᵀ)·Bᵀ per target; state offset h: Cm·h'ᵀ per layer). Forward + backward adds the backward performed: the
     * activation gradient (dX = dY·W) of every one of those products, since the loss's gradient has to reach the first
     * layer's adapter, and weight gradients (dW = dYᵀ·X) only for the trainable adapter tensors, the base weights
     * being frozen: 2 × forward + 1 × the adapter's products. Not counted: the selective scan, convolution, norms,
     * softmax and other elementwise work (for the 130M shape about 10·D·N = 0.25 MFLOP per token and layer, against
     * 7.5 MFLOP of the layer's projections).
     */
    static double flopsPerToken(MambaConfig c, Extra extra) {
        double dm = c.dModel();
        double di = c.dInner();
        double n = c.dState();
        double r = c.dtRank();
        double[][] projections = {{dm, 2 * di}, {di, r + 2 * n}, {r, di}, {di, dm}}; // (in, out) per layer
        double layer = 0;
        double adapter = 0;
        for (double[] p : projections) {
            layer += 2 * p[0] * p[1];
            if (extra == Extra.LORA_R8) {
                adapter += 2 * LORA_RANK * (p[0] + p[1]);
            }
        }
        if (extra == Extra.STATE_OFFSET_H) {
            adapter += 2 * n * di;
        }
        double forward = c.layers() * layer + 2 * dm * c.vocabSize();
        return extra == Extra.NONE ? forward : 2 * (forward + c.layers() * adapter) + c.layers() * adapter;
    }

    /**
     * The same count for Mamba-2: in_proj (d -> [z, x, B, C, dt]: 2·D_inner + 2·G·N + H outputs) and out_proj of every
     * layer and the head, plus the adapter's products (LoRA on in_proj and out_proj; state offset h: C·h' per head,
     * H·P·N); forward + backward as for Mamba-1. Not counted: the SSD itself (at chunk Q, per token and layer about
     * 2·Q·(G·N + H·P) for the intra-chunk quadratic form and 4·H·P·N for the chunk states: 1.6 MFLOP at the 130M
     * shape, against 7.5 MFLOP of the projections), the convolution, norms and softmax.
     */
    static double flopsPerToken(Mamba2Config c, Extra extra) {
        double dm = c.dModel();
        double di = c.dInner();
        double[][] projections = {{dm, c.inProjWidth()}, {di, dm}};
        double layer = 0;
        double adapter = 0;
        for (double[] p : projections) {
            layer += 2 * p[0] * p[1];
            if (extra == Extra.LORA_R8_MAMBA2) {
                adapter += 2 * LORA_RANK * (p[0] + p[1]);
            }
        }
        if (extra == Extra.STATE_OFFSET_H) {
            adapter += 2.0 * c.heads() * c.headDim() * c.dState();
        }
        double forward = c.layers() * layer + 2 * dm * c.vocabSize();
        return extra == Extra.NONE ? forward : 2 * (forward + c.layers() * adapter) + c.layers() * adapter;
    }

    /** Mamba-2 weights at a trained model's scale (A = -(1..16) over the heads, dt ≈ 0.08 through dt_bias), seeded. */
    static Mamba2Weights randomMamba2Weights(Mamba2Config c, long seed) {
        var rng = new Random(seed);
        int dm = c.dModel();
        int di = c.dInner();
        int h = c.heads();
        List<Mamba2LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            float[] aLog = new float[h];
            float[] dtBias = new float[h];
            for (int i = 0; i < h; i++) {
                aLog[i] = (float) Math.log(1 + 15.0 * i / h);
                dtBias[i] = -2.5f;
            }
            layers.add(new Mamba2LayerWeights(filled(dm, 1f), normal(rng, c.inProjWidth() * dm, 1 / Math.sqrt(dm)),
                    Optional.empty(), normal(rng, c.convDim() * c.convKernel(), 0.5),
                    Optional.of(new float[c.convDim()]), dtBias, aLog, filled(h, 1f), filled(di, 1f),
                    normal(rng, dm * di, 1 / Math.sqrt(di)), Optional.empty()));
        }
        float[] emb = normal(rng, c.vocabSize() * dm, 0.02);
        return new Mamba2Weights(c, emb, layers, filled(dm, 1f), emb);
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (Exception e) {
            return "n/a";
        }
    }

    private static Runnable call(SsmModel model, int[][] tokens, AdapterSet adapters, Workload w) {
        if (w.adapterYaml() == null) {
            return () -> model.forward(tokens, adapters);
        }
        return () -> model.lossAndGradients(tokens, tokens, adapters, Set.of());
    }

    /** Median tokens/s of {@code iterations} calls after {@code warmup}, with the peaks sampled meanwhile. */
    private static Result measure(String backend, String what, Runnable call, int warmup, int iterations,
                                  int tokensPerCall) throws Exception {
        long start = System.nanoTime();
        for (int i = 0; i < warmup; i++) {
            call.run();
        }
        System.gc();
        AtomicLong peakHeap = new AtomicLong(MEMORY.getHeapMemoryUsage().getUsed());
        AtomicLong peakRss = new AtomicLong(rss());
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peakHeap.accumulateAndGet(MEMORY.getHeapMemoryUsage().getUsed(), Math::max);
                peakRss.accumulateAndGet(rss(), Math::max);
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        double[] seconds = new double[iterations];
        boolean profiled = backend.equals("cpu") && CpuProfile.ON;
        if (profiled) {
            CpuProfile.drain(); // the warm-up's
        }
        try {
            for (int i = 0; i < iterations; i++) {
                long t0 = System.nanoTime();
                call.run();
                seconds[i] = (System.nanoTime() - t0) / 1e9;
            }
        } finally {
            sampler.interrupt();
            sampler.join();
        }
        if (profiled) {
            PROFILES.add(profile(what, CpuProfile.drain(), Arrays.stream(seconds).sum(), iterations));
        }
        Arrays.sort(seconds);
        double median = iterations % 2 == 1 ? seconds[iterations / 2]
                : (seconds[iterations / 2 - 1] + seconds[iterations / 2]) / 2;
        System.err.printf(Locale.ROOT, "%s %s: %.2f s per call (median of %d), %.0f s with the warm-up%n", what,
                backend, median, iterations, (System.nanoTime() - start) / 1e9);
        return new Result(tokensPerCall / median, peakHeap.get() / 1048576.0, peakRss.get() / 1048576.0, median);
    }

    /** The cpu rows' profiles ({@code -Dssmpeft.cpu.profile=true}), printed after the table. */
    private static final List<String> PROFILES = new ArrayList<>();

    // one row's profile: ms per call and share of the measured wall time per part, the rest as OTHER
    static String profile(String what, java.util.Map<CpuProfile.Part, Long> nanos, double seconds, int calls) {
        StringBuilder b = new StringBuilder("| " + what + " | " + String.format(Locale.ROOT, "%.0f", seconds * 1e3
                / calls) + " |");
        long parts = 0;
        for (CpuProfile.Part p : CpuProfile.Part.values()) {
            long n = p == CpuProfile.Part.OTHER ? Math.max(0, Math.round(seconds * 1e9) - parts)
                    : nanos.getOrDefault(p, 0L);
            parts += p == CpuProfile.Part.OTHER ? 0 : n;
            b.append(n == 0 ? " - |" : String.format(Locale.ROOT, " %.0f (%.1f%%) |", n / 1e6 / calls,
                    100 * n / (seconds * 1e9)));
        }
        return b.toString();
    }

    private static final Path STATM = Path.of("/proc/self/statm");

    /** Resident set size in bytes (Linux), 0 elsewhere. */
    private static long rss() {
        try {
            String[] fields = Files.readString(STATM).trim().split("\\s+");
            return Long.parseLong(fields[1]) * 4096;
        } catch (Exception e) {
            return 0;
        }
    }

    /** Weights at the scale of a trained Mamba (A = -(1..N), dt ≈ 0.08), seeded. */
    static MambaWeights randomWeights(MambaConfig c, long seed) {
        var rng = new Random(seed);
        int dm = c.dModel();
        int di = c.dInner();
        int n = c.dState();
        int r = c.dtRank();
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            float[] aLog = new float[di * n];
            for (int d = 0; d < di; d++) {
                for (int i = 0; i < n; i++) {
                    aLog[d * n + i] = (float) Math.log(i + 1);
                }
            }
            float[] dtBias = new float[di];
            Arrays.fill(dtBias, -2.5f);
            layers.add(new LayerWeights(filled(dm, 1f), normal(rng, 2 * di * dm, 1 / Math.sqrt(dm)), Optional.empty(),
                    normal(rng, di * c.convKernel(), 0.5), Optional.of(new float[di]),
                    normal(rng, (r + 2 * n) * di, 1 / Math.sqrt(di)), normal(rng, di * r, 1 / Math.sqrt(r)), dtBias,
                    aLog, filled(di, 1f), normal(rng, dm * di, 1 / Math.sqrt(di)), Optional.empty()));
        }
        float[] emb = normal(rng, c.vocabSize() * dm, 0.02);
        return new MambaWeights(c, emb, layers, filled(dm, 1f), emb);
    }

    static int[][] tokens(int batch, int length, int vocab, long seed) {
        var rng = new Random(seed);
        int[][] t = new int[batch][length];
        for (int[] row : t) {
            for (int i = 0; i < length; i++) {
                row[i] = rng.nextInt(vocab);
            }
        }
        return t;
    }

    private static float[] normal(Random rng, int size, double std) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (std * rng.nextGaussian());
        }
        return a;
    }

    private static float[] filled(int size, float value) {
        float[] a = new float[size];
        Arrays.fill(a, value);
        return a;
    }

    private static int intOption(String[] args, String name, int fallback) {
        return stringOption(args, name).map(Integer::parseInt).orElse(fallback);
    }

    private static Optional<String> stringOption(String[] args, String name) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return Optional.of(args[i + 1]);
            }
        }
        return Optional.empty();
    }
}
