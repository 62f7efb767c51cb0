package org.ssmpeft.runtime.cuda.bench;

import static org.ssmpeft.runtime.cuda.bench.BenchSetup.json;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.loadAverage;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.median;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.quote;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.TrainingSession;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.train.AdamW;
import org.ssmpeft.runtime.train.TrainableParameter;

/**
 * The training-step benchmark (issue: CUDA part 2): one PEFT training step of a random-weight Mamba, on any backend,
 * through the public SPI only ({@link Backends}, {@link SsmModel#lossAndGradients}, adapters from the installed
 * method plugins by {@link AdapterFactory}, the project's {@link AdamW}). One step = loss and gradients of a batch
 * (B, L) of random tokens (labels = tokens, next-token cross-entropy) + one AdamW update of every trainable tensor,
 * as {@code Trainer} takes it, timed on the wall clock. With {@code --optimizer device} (the default) the step is the
 * model's own {@link TrainingSession} where it offers one ({@link SsmModel#residentTraining}: on cuda the trainables,
 * gradients and AdamW moments stay on the device and only the loss and norm come back), else, and with
 * {@code host}, {@code lossAndGradients} (the gradients come back as host tensors) + the host AdamW; {@code both}
 * runs each row both ways. The calls are synchronous, so the time includes the device work. Median of the timed
 * steps after the warm-up ones; each row builds its model anew, and a discarded round of warm-up steps of the first
 * row runs before any (the JIT's compilation of the host code would otherwise land on the first row).
 *
 * <p>Methods: {@code state-offset} (h' per layer, zero start), {@code lora} (r 8, alpha 16 on in_proj, x_proj,
 * dt_proj: the targets Hugging Face PEFT accepts for Mamba), {@code lora-out} (the same plus out_proj, which PEFT
 * refuses). AdamW as the peer's {@code torch.optim.AdamW(lr=1e-4)}: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
 *
 * <p>FLOPs per token (symbols: layers ℓ, d = d_model, D = d_inner, N = d_state, R = dt_rank, V = vocab):
 * <pre>
 *   P_mm    = ℓ·(d·2D + D·(R + 2N) + R·D + D·d) + V·d       weights of every matmul (in_proj, x_proj, dt_proj,
 *                                                             out_proj per layer; the tied head once)
 *   scan    = 24·ℓ·D·N                                       8 per state element forward (Δ·a, exp, Δu·B, a·h + b,
 *                                                             C·h: 2 + 2 + 2 + 2 counting the exp as one), backward 2x
 *   model   = 6·P_mm + scan                                  the usual convention (forward 2, input gradient 2,
 *                                                             weight gradient 2 per weight): MFU's numerator
 *   needed  = 4·P_mm + 6·P_adapter + scan                    what a PEFT step must compute: frozen weights need no
 *                                                             weight gradient; every adapter element (LoRA's A and B,
 *                                                             h': C·h' is D·N products) is one multiply-add per token
 * </pre>
 * Mamba-130M: P_mm = 128,268,288 (of 129,135,360 parameters: the rest are norms, conv1d, dt bias, A_log, D), model =
 * 769,609,728 + 14,155,776 = 783,765,504 FLOP/token, the count of the earlier estimate. Left out (under 0.5% together):
 * the depthwise conv (6·K·D per layer and token, 0.11%), norms, gates, softplus, the softmax of the loss. MFU =
 * model FLOPs/token × tokens/s ÷ the bf16 GEMM rate cuBLAS reaches in the same run (8192³, bf16 in and out, fp32
 * accumulate); {@code mfu_needed} uses the needed count. Both only on {@code cuda}.
 *
 * <p>Peak device memory ({@code cuda} only): cuMemGetInfo's used bytes (device-wide: other processes count too),
 * sampled every millisecond by a thread from the model's creation to the last step, minus the bytes used just before
 * the model was created; allocations that live under a millisecond can be missed. Other backends print {@code n/a}.
 *
 * <p>Precision: each one asked runs as the model's option ({@link org.ssmpeft.runtime.backend.ModelSpec#precision()},
 * {@code weights.withPrecision(p)}); one the backend does not offer ({@link BackendProvider#precisions()}: cpu and
 * djl fp32 only) is reported as skipped with the backend's own refusal.
 *
 * <p>Prints a header (backend, shape, precision, machine load), a table and one {@code BENCH {json}} line per result.
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.ssmpeft.runtime.cuda.bench.TrainStepBench \
 *     [--backend cpu|cuda] [--shape 130m|tiny] [--batch 4] [--length 1024] \
 *     [--methods state-offset,lora,lora-out] [--precision fp32|tf32|bf16|fp32,tf32,bf16] [--warmup 2] [--steps 5]</pre>
 */
public final class TrainStepBench {

    /** The step's optimiser, as the transformers + PEFT peer's {@code torch.optim.AdamW(trainable, lr=1e-4)}. */
    static final double LEARNING_RATE = 1e-4;
    static final double WEIGHT_DECAY = 0.01;

    /** Side of the square bf16 GEMM whose rate is MFU's denominator. */
    static final int GEMM_SIZE = 8192;

    /** A method of the benchmark: its row name and the adapter config the plugin reads. */
    enum Method {
        STATE_OFFSET("state-offset", "method: state-offset\nvariant: h\ninit: zero\n"),
        LORA("lora", "method: lora\nrank: 8\nalpha: 16\ntargets: [in_proj, x_proj, dt_proj]\n"),
        LORA_OUT("lora-out", "method: lora\nrank: 8\nalpha: 16\ntargets: [in_proj, x_proj, dt_proj, out_proj]\n");

        final String row;
        final String config;

        Method(String row, String config) {
            this.row = row;
            this.config = config;
        }

        static Method of(String name) {
            return BenchOptions.choose(name, values(), m -> m.row, "--methods: unknown method '%s'; expected a"
                    + " comma-separated list of: ");
        }
    }

    record Options(String backend, String shape, int batch, int length, List<Method> methods,
                   List<Precision> precisions, int warmup, int steps, long seed, String optimizer) {

        static final String USAGE = "options: --backend NAME (default: the preferred available one), --shape 130m|tiny"
                + " (130m), --batch B (4), --length L (1024), --methods state-offset,lora,lora-out (all),"
                + " --precision fp32|tf32|bf16, or a list: fp32,tf32,bf16 (fp32), --warmup N (2), --steps N (5), --seed S (0),"
                + " --optimizer device|host|both (device: AdamW where the model keeps the trainables, if it offers"
                + " that, else host)";

        static Options parse(String[] args) {
            BenchOptions v = BenchOptions.parse(args, List.of("--backend", "--shape", "--batch", "--length",
                    "--methods", "--precision", "--warmup", "--steps", "--seed", "--optimizer"), USAGE);
            List<Method> methods = Arrays.stream(v.text("--methods", "state-offset,lora,lora-out").split(","))
                    .map(String::trim).map(Method::of).toList();
            List<Precision> precisions = v.precisions("fp32");
            Options o = new Options(v.text("--backend", ""), v.text("--shape", "130m"), v.positive("--batch", 4),
                    v.positive("--length", 1024), methods, precisions, v.count("--warmup", 2),
                    v.positive("--steps", 5), v.seed(), v.text("--optimizer", "device"));
            v.shape();
            if (!List.of("device", "host", "both").contains(o.optimizer)) {
                throw new IllegalArgumentException("--optimizer: expected device, host or both, found '" + o.optimizer
                        + "'; " + USAGE);
            }
            return o;
        }
    }

    /** FLOPs per token of one training step, as the class comment counts them. */
    record Flops(long matmulWeights, long scan) {

        static Flops of(MambaConfig c) {
            return new Flops(BenchSetup.matrixParameters(c), 24L * c.layers() * c.dInner() * c.dState());
        }

        long model() {
            return 6 * matmulWeights + scan;
        }

        long needed(long adapterParameters) {
            return 4 * matmulWeights + 6 * adapterParameters + scan;
        }
    }

    private TrainStepBench() {
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("TrainStepBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Optional<BenchSetup> selected = BenchSetup.select("train-step", o.backend, o.shape, System.out);
        if (selected.isEmpty()) {
            System.exit(3);
            return;
        }
        BenchSetup setup = selected.get();
        BackendProvider backend = setup.backend;
        MambaConfig config = setup.config;
        Flops flops = Flops.of(config);
        setup.header(System.out, o.seed, String.format(Locale.ROOT, "batch %d, length %d; warm-up %d, timed %d steps",
                o.batch, o.length, o.warmup, o.steps));
        List<Precision> runs = setup.runs(o.precisions);
        setup.precisionLine(System.out, o.precisions, "products only: norms, conv, scan, loss, gradients and AdamW"
                + " state are float32 in every mode");
        System.out.printf(Locale.ROOT, "FLOP/token: model %,d = 6 x %,d matmul weights + scan %,d (24 x layers x"
                + " d_inner x d_state)%n", flops.model(), flops.matmulWeights(), flops.scan());

        boolean cuda = backend.name().equals("cuda");
        try (CudaContext ctx = cuda ? CudaContext.open(0) : null) {
            double bf16Rate = Double.NaN;
            if (ctx != null) {
                BenchSetup.deviceLine(System.out, ctx);
                try (Cublas cublas = Cublas.create(ctx)) {
                    bf16Rate = gemmRate(ctx, cublas, Cublas.Math.BF16, Cublas.Type.BF16, GEMM_SIZE, 20);
                    double fp32Rate = gemmRate(ctx, cublas, Cublas.Math.FLOAT32, Cublas.Type.FLOAT32, GEMM_SIZE, 5);
                    System.out.printf(Locale.ROOT, "GEMM %d^3 (cuBLAS gemmEx, fp32 accumulate, median): bf16 %.1f"
                            + " TFLOP/s (MFU's denominator), fp32 %.1f TFLOP/s%n", GEMM_SIZE, bf16Rate / 1e12,
                            fp32Rate / 1e12);
                    System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"gemm\",\"size\":%d,\"bf16_flop_s\":%.4e,"
                            + "\"fp32_flop_s\":%.4e}%n", GEMM_SIZE, bf16Rate, fp32Rate);
                }
            }
            boolean any = !runs.isEmpty();
            MambaWeights weights = any ? setup.weights(o.seed) : null;
            AdapterFactory factory = new AdapterFactory(PeftMethods.load());
            int[][][] batches = any ? new int[][][] {tokens(o, config, 1), tokens(o, config, 2)} : null;
            List<String> rows = new ArrayList<>();
            if (any && o.warmup > 0) {
                // the JIT compiles the step's host code (and a GPU leaves its idle clocks) only after some work, so
                // the first row would pay for it: a discarded round of warm-up steps first
                run(setup, weights, factory, o.methods.getFirst(), runs.getFirst(), o, batches, flops, ctx, bf16Rate,
                        false, !o.optimizer.equals("host"));
            }
            for (Precision precision : o.precisions) {
                if (!BenchSetup.supports(backend, precision)) {
                    String why = "precision " + precision + ": backend " + backend.name() + " offers only "
                            + setup.offered() + "; skipped";
                    System.out.println(why);
                    System.out.println("BENCH {\"bench\":\"train-step\",\"backend\":" + quote(backend.name())
                            + ",\"precision\":" + quote(precision.id()) + ",\"skipped\":" + quote(why) + "}");
                    continue;
                }
                for (Method m : o.methods) {
                    for (boolean device : o.optimizer.equals("both") ? List.of(true, false)
                            : List.of(o.optimizer.equals("device"))) {
                        rows.add(run(setup, weights, factory, m, precision, o, batches, flops, ctx, bf16Rate, true,
                                device));
                    }
                }
            }
            if (rows.isEmpty()) {
                return;
            }
            System.out.println();
            System.out.println("method        precision optimizer  trainable   median ms     min ms    tokens/s  peak MiB"
                    + "    MFU  MFU(needed)  loss first->last");
            rows.forEach(System.out::println);
        }
    }

    private static String run(BenchSetup setup, MambaWeights weights, AdapterFactory factory, Method method,
                              Precision precision, Options o, int[][][] batches, Flops flops, CudaContext ctx,
                              double bf16Rate, boolean timed, boolean deviceOptimizer) {
        BackendProvider backend = setup.backend;
        AdapterSet adapters = BenchSetup.adapters(factory, method.config, weights, o.seed);
        List<TrainableParameter> trainable = new ArrayList<>();
        for (Adapter a : adapters.acting()) {
            for (ParameterSpec s : a.parameterSpecs()) {
                trainable.add(TrainableParameter.ofAdapter(a.name(), s.name(), a.parameter(s.name()),
                        s.weightDecay(), s.learningRateScale()));
            }
        }
        long adapterParameters = trainable.stream().mapToLong(p -> p.value().size()).sum();
        AdamW adamw = new AdamW(AdamW.DEFAULT_BETA1, AdamW.DEFAULT_BETA2, AdamW.DEFAULT_EPS, WEIGHT_DECAY);
        double[] times = new double[o.steps];
        double firstLoss = Double.NaN, lastLoss = Double.NaN;
        long peakBytes;
        String where = "host";
        try (MemoryPeak peak = ctx == null ? null : MemoryPeak.start(ctx)) {
            SsmModel model = setup.model(weights, precision);
            // the device's own step (forward, backward, accumulation, norm and one AdamW launch, the trainables
            // resident) where the model offers it and it is asked for; else lossAndGradients + AdamW on the host
            TrainingSession session = deviceOptimizer ? model.residentTraining(adapters, new TrainingSession.Settings(
                    trainable.stream().map(p -> new TrainingSession.Trainable(p.key(), p.value(), p.weightDecay(),
                            p.learningRateScale(), p.adapter(), p.name())).toList(), Set.of(), AdamW.DEFAULT_BETA1,
                    AdamW.DEFAULT_BETA2, AdamW.DEFAULT_EPS, WEIGHT_DECAY)).orElse(null) : null;
            where = session == null ? "host" : session.where();
            try {
                for (int i = -o.warmup; i < (timed ? o.steps : 0); i++) {
                    int[][] tokens = batches[Math.floorMod(i, batches.length)];
                    long start = System.nanoTime();
                    double loss;
                    if (session != null) {
                        session.beginStep();
                        session.addMicroBatch(tokens, tokens);
                        loss = session.step(LEARNING_RATE, 0).loss();
                    } else {
                        LossAndGradients g = model.lossAndGradients(tokens, tokens, adapters, Set.of(), false);
                        Map<String, float[]> grads = new LinkedHashMap<>();
                        for (TrainableParameter p : trainable) {
                            grads.put(p.key(), p.gradientIn(g).data());
                        }
                        adamw.step(trainable, grads, LEARNING_RATE);
                        loss = g.loss();
                    }
                    long end = System.nanoTime();
                    if (!Double.isFinite(loss)) {
                        throw new IllegalStateException(method.row + ": the loss of step " + (i + o.warmup + 1)
                                + " is " + loss);
                    }
                    if (i == -o.warmup) {
                        firstLoss = loss;
                    }
                    lastLoss = loss;
                    if (i >= 0) {
                        times[i] = (end - start) / 1e6;
                    }
                }
                if (session != null) {
                    session.toHost();
                }
            } finally {
                if (session != null) {
                    session.close();
                }
                setup.close(model);
            }
            peakBytes = peak == null ? -1 : peak.peakBytes();
        }
        if (!timed) {
            return "";
        }
        double med = median(times), min = Arrays.stream(times).min().orElse(Double.NaN);
        long tokensPerStep = (long) o.batch * o.length;
        double tokensPerSecond = tokensPerStep / (med / 1e3);
        double mfu = flops.model() * tokensPerSecond / bf16Rate;
        long needed = flops.needed(adapterParameters);
        double mfuNeeded = needed * tokensPerSecond / bf16Rate;
        System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"train-step\",\"backend\":%s,\"shape\":%s,\"method\":%s,"
                        + "\"precision\":%s,\"batch\":%d,\"length\":%d,\"trainable\":%d,\"warmup\":%d,\"steps\":%d,"
                        + "\"median_ms\":%.3f,\"min_ms\":%.3f,\"tokens_per_s\":%.1f,\"peak_device_bytes\":%s,"
                        + "\"flops_per_token\":%d,\"needed_flops_per_token\":%d,\"bf16_gemm_flop_s\":%s,\"mfu\":%s,"
                        + "\"mfu_needed\":%s,\"loss_first\":%.5f,\"loss_last\":%.5f,\"optimizer\":%s,\"load\":%s}%n",
                quote(backend.name()), quote(o.shape), quote(method.row), quote(precision.id()), o.batch, o.length,
                adapterParameters, o.warmup, o.steps, med, min, tokensPerSecond,
                peakBytes < 0 ? "null" : String.valueOf(peakBytes), flops.model(), needed,
                json(bf16Rate, "%.4e"), json(mfu, "%.5f"), json(mfuNeeded, "%.5f"), firstLoss, lastLoss,
                quote(where), quote(loadAverage()));
        return String.format(Locale.ROOT, "%-13s %-9s %-9s %10d %11.2f %10.2f %11.1f %9s %6s %12s  %.4f->%.4f",
                method.row, precision, where, adapterParameters, med, min, tokensPerSecond,
                peakBytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f", peakBytes / (double) (1L << 20)),
                percent(mfu), percent(mfuNeeded), firstLoss, lastLoss);
    }

    /** A batch (B, L) of uniform random token ids. */
    private static int[][] tokens(Options o, MambaConfig c, long stream) {
        return BenchSetup.randomTokens(o.seed, stream, o.batch, o.length, c.vocabSize());
    }

    /**
     * FLOP/s of {@code C = A·B}, n x n x n ({@code 2·n³} FLOPs), median of {@code reps} after 10 warm-ups (the clocks
     * leave idle), each timed with CUDA events; A and B random in [-1, 1) (constant inputs draw less power and would run
     * faster).
     */
    static double gemmRate(CudaContext ctx, Cublas cublas, Cublas.Math math, Cublas.Type out, int n, int reps) {
        long elements = (long) n * n;
        try (DeviceArena a = ctx.arena()) {
            int in = math.input().bytes();
            DeviceBuffer x = a.allocate(elements * in), y = a.allocate(elements * in);
            DeviceBuffer c = a.allocate(elements * out.bytes());
            Random r = new Random(7);
            for (DeviceBuffer buf : List.of(x, y)) {
                fillRandom(ctx, buf, elements, in, r);
            }
            double[] t = new double[reps];
            for (int i = -10; i < reps; i++) {
                float ms = ctx.time(() -> cublas.gemmEx(math, out, Cublas.Op.N, Cublas.Op.N, n, n, n, 1f,
                        x.address(), n, y.address(), n, 0f, c.address(), n));
                if (i >= 0) {
                    t[i] = ms;
                }
            }
            return 2.0 * n * n * n / (median(t) * 1e-3);
        }
    }

    private static void fillRandom(CudaContext ctx, DeviceBuffer buf, long elements, int bytesPer, Random r) {
        int chunk = 1 << 22;
        float[] v = new float[chunk];
        for (long at = 0; at < elements; at += chunk) {
            int len = (int) Math.min(chunk, elements - at);
            float[] part = len == chunk ? v : new float[len];
            for (int i = 0; i < len; i++) {
                part[i] = r.nextFloat() * 2 - 1;
            }
            DeviceBuffer slice = new DeviceBuffer(ctx, buf.address() + at * bytesPer, (long) len * bytesPer);
            if (bytesPer == 2) {
                slice.copyFromAsBf16(part);
            } else {
                slice.copyFrom(part);
            }
        }
    }

    /**
     * The device's used bytes (cuMemGetInfo: total − free), sampled every millisecond by a daemon thread, above the
     * bytes used when sampling started.
     */
    static final class MemoryPeak implements AutoCloseable {
        private final Thread thread;
        private final long baseline;
        private volatile boolean stop;
        private volatile long peak;

        private MemoryPeak(CudaContext ctx) {
            this.baseline = used(ctx);
            this.peak = baseline;
            this.thread = Thread.ofPlatform().daemon().name("device-memory-peak").start(() -> {
                ctx.bind(); // driver calls act on the thread's current context
                while (!stop) {
                    peak = Math.max(peak, used(ctx));
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        static MemoryPeak start(CudaContext ctx) {
            return new MemoryPeak(ctx);
        }

        private static long used(CudaContext ctx) {
            long[] info = ctx.driver().memInfo();
            return info[1] - info[0];
        }

        /** The highest sample so far above the baseline, in bytes. */
        long peakBytes() {
            return Math.max(0, peak - baseline);
        }

        @Override
        public void close() {
            stop = true;
            try {
                thread.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String percent(double fraction) {
        return Double.isNaN(fraction) ? "n/a" : String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
    }
}
