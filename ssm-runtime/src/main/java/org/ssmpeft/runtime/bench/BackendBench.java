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
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.MambaModel;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * cpu against djl in one run, same machine, same shapes: tokens/s of the forward and of forward + backward
 * ({@code lossAndGradients}) with a State-offset Tuning (h) adapter on all layers and with LoRA (r 8 on in_proj,
 * x_proj, dt_proj, out_proj), on random models of the mamba-tiny fixture's config and of the Mamba-130M shape; warm-up
 * calls, then the median of the measured ones, the ratio cpu / djl, and per case the peak Java heap and peak resident
 * set size (sampled every 2 ms; djl's tensors live in native memory, so its heap is small and its RSS is not).
 *
 * <p>Needs the method modules and, for djl, {@code pytorch-native-cpu} on the class path; the examples fat jar has the
 * methods: {@code java -cp examples/target/peft.jar:<pytorch-native-cpu jar> org.ssmpeft.runtime.bench.BackendBench}.
 * Options: {@code --warmup N} (1), {@code --iterations N} (3), {@code --length L} (512), {@code --layers-130m N}
 * (24; fewer when the 130M shape does not fit the machine or the time), {@code --only tiny|130m}.
 */
public final class BackendBench {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    private record Shape(String name, MambaConfig config) {
    }

    private record Workload(String name, String adapterYaml) {
    }

    private record Result(double tokensPerSecond, double peakHeapMb, double peakRssMb) {
    }

    private BackendBench() {
    }

    public static void main(String[] args) throws Exception {
        int warmup = intOption(args, "--warmup", 1);
        int iterations = intOption(args, "--iterations", 3);
        int length = intOption(args, "--length", 512);
        int layers130m = intOption(args, "--layers-130m", 24);
        String only = stringOption(args, "--only").orElse("all");

        List<Shape> shapes = new ArrayList<>();
        if (!only.equals("130m")) {
            shapes.add(new Shape("mamba-tiny (2 layers, d 64, N 16, V 256)", MambaConfig.of(256, 64, 16, 2)));
        }
        if (!only.equals("tiny")) {
            shapes.add(new Shape("Mamba-130M shape (" + layers130m + (layers130m == 24 ? "" : " of 24")
                    + " layers, d 768, N 16, V 50280)", MambaConfig.of(50280, 768, 16, layers130m)));
        }
        List<Workload> workloads = List.of(
                new Workload("forward", null),
                new Workload("fwd+bwd, state-offset h", """
                        method: state-offset
                        variant: h
                        layers: all
                        """),
                new Workload("fwd+bwd, LoRA r 8", """
                        method: lora
                        rank: 8
                        alpha: 16
                        targets: [in_proj, x_proj, dt_proj, out_proj]
                        layers: all
                        """));

        Backends backends = Backends.load();
        BackendProvider cpu = backends.get("cpu");
        BackendProvider djl = backends.get("djl");
        Optional<String> djlMissing = djl.unavailableReason();
        System.out.printf(Locale.ROOT, "java %s, %d processors, max heap %d MB; L = %d, %d warm-up + %d measured calls,"
                        + " median%n", System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20, length, warmup, iterations);
        djlMissing.ifPresent(r -> System.out.println("djl unavailable, only cpu is measured: " + r));
        AdapterFactory factory = new AdapterFactory(PeftMethods.load());

        System.out.println();
        System.out.println("| model | B | work | cpu tokens/s | djl tokens/s | cpu / djl | cpu peak heap / RSS (MB) |"
                + " djl peak heap / RSS (MB) |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Shape shape : shapes) {
            MambaWeights weights = randomWeights(shape.config(), 42);
            MambaModel cpuModel = cpu.create(weights);
            MambaModel djlModel = djlMissing.isEmpty() ? djl.create(weights) : null;
            try {
                for (int batch : new int[] {1, 4}) {
                    int[][] tokens = tokens(batch, length, shape.config().vocabSize(), 7);
                    for (Workload w : workloads) {
                        AdapterSet adapters = w.adapterYaml() == null ? cpuModel.noAdapters()
                                : factory.create(factory.reader().parse(w.adapterYaml(), ConfigFormat.YAML),
                                shape.config().toShape(), 3);
                        Runnable cpuCall = call(cpuModel, tokens, adapters, w);
                        Result c = measure(cpuCall, warmup, iterations, batch * length);
                        Result d = djlModel == null ? null
                                : measure(call(djlModel, tokens, adapters, w), warmup, iterations, batch * length);
                        System.out.printf(Locale.ROOT, "| %s | %d | %s | %.0f | %s | %s | %.0f / %.0f | %s |%n",
                                shape.name(), batch, w.name(), c.tokensPerSecond(),
                                d == null ? "-" : "%.0f".formatted(d.tokensPerSecond()),
                                d == null ? "-" : "%.3g".formatted(c.tokensPerSecond() / d.tokensPerSecond()),
                                c.peakHeapMb(), c.peakRssMb(),
                                d == null ? "-" : "%.0f / %.0f".formatted(d.peakHeapMb(), d.peakRssMb()));
                    }
                }
            } finally {
                if (djlModel instanceof AutoCloseable closeable) {
                    closeable.close();
                }
            }
        }
    }

    private static Runnable call(MambaModel model, int[][] tokens, AdapterSet adapters, Workload w) {
        if (w.adapterYaml() == null) {
            return () -> model.forward(tokens, adapters);
        }
        return () -> model.lossAndGradients(tokens, tokens, adapters, Set.of());
    }

    /** Median tokens/s of {@code iterations} calls after {@code warmup}, with the peaks sampled meanwhile. */
    private static Result measure(Runnable call, int warmup, int iterations, int tokensPerCall) throws Exception {
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
        Arrays.sort(seconds);
        double median = iterations % 2 == 1 ? seconds[iterations / 2]
                : (seconds[iterations / 2 - 1] + seconds[iterations / 2]) / 2;
        return new Result(tokensPerCall / median, peakHeap.get() / 1048576.0, peakRss.get() / 1048576.0);
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
