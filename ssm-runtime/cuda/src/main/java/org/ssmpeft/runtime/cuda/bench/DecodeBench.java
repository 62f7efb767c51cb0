package org.ssmpeft.runtime.cuda.bench;

import static org.ssmpeft.runtime.cuda.bench.BenchSetup.json;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.loadAverage;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.median;
import static org.ssmpeft.runtime.cuda.bench.BenchSetup.quote;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Decoder;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.TopTokens;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.model.CudaMamba;
import org.ssmpeft.runtime.generate.Generation;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.generate.Generator;

/**
 * The decode benchmark (issue: GPU inference, its proof): greedy decoding of a random-weight Mamba, on any backend,
 * through the public SPI only ({@link Backends}, {@link SsmModel#newState}, {@link SsmModel#forward} with a state,
 * {@link SsmModel#step}; an adapter from the installed plugins by {@link AdapterFactory}). Per batch B: a (B, P)
 * prompt of random tokens is prefilled by one forward on a fresh state, then every further new token is one step of
 * the (B) tokens just chosen, the argmax taken on the host from the (B, V) logits the step returns (ties to the lower
 * id, as {@link Generator} does). {@link Generator} itself decodes one sequence ({@code newState(1)}), so the batched
 * loop is written here on the same state API; for B 1 the loop's tokens are checked against {@link Generator#greedy}
 * and, for every B, row 0's tokens against the B 1 run's ("rows agree"; a mismatch fails the run, exit 4).
 *
 * <p>Two loops ({@code --loop}, both by default, checked to decode the same tokens): {@code step} as above, and
 * {@code decoder}: the model's {@link Decoder} ({@link SsmModel#decoder}), whose prefill and steps return each row's
 * best token only; on cuda the step is one replay of a CUDA graph of the whole model's step and the argmax runs on
 * the device (its time is inside the step: the argmax column reads 0).
 *
 * <p>Times, on the wall clock (the SPI's calls are synchronous: logits come back as host arrays):
 * <pre>
 *   prefill   forward of (B, P) on a fresh state + the first argmax                 (the first new token)
 *   step      step of (B) tokens + the argmax of its (B, V) logits                   (each of the other new − 1)
 *   generate  prefill + every step: what Hugging Face's generate times
 *   tokens/s  B · new / generate          (the peer's and anchors.md's convention: prefill included)
 *   decode tokens/s  B / step             (steady state)
 * </pre>
 * Medians over the timed repetitions (steps: over every step of every timed repetition), each repetition a fresh
 * state, after warm-up repetitions that are discarded.
 *
 * <p>Precision: each one asked ({@code --precision}, default fp32 and bf16) is the model's option
 * ({@link org.ssmpeft.runtime.backend.ModelSpec#precision()}): one model per precision is built from the same fp32
 * random weights ({@code weights.withPrecision(p)}) and decodes every batch. One the backend does not offer
 * ({@link BackendProvider#precisions()}: cpu and djl fp32 only, cuda fp32, tf32 and bf16) is reported as skipped,
 * per batch, with the backend's own refusal ({@link BackendProvider#requirePrecision}). Only the matrix products
 * change: tf32 rounds their fp32 operands inside cuBLAS, bf16 (autocast) rounds both inputs to bfloat16 and reads
 * bf16 copies of the base matrices made once when the model is built; norms, conv, scan, the state, the logits and
 * the fp32 master weights stay float32. A reduced-precision model decodes other tokens than the fp32 one, so every
 * check compares runs of one precision only.
 *
 * <p>Weight-read floor ({@code cuda} only), per precision: a decode step must read every parameter once, so its
 * floor is {@code parameter bytes / copy bandwidth}, the bandwidth being ScanBench's 1 GiB device-to-device copy
 * (read + write) measured in the same run. The parameter bytes count every parameter of the model once, the tied
 * head once (it is the embedding), at the width the step's kernels read it:
 * <ul>
 *   <li>fp32 and tf32: 4 bytes per parameter (tf32 products read the fp32 matrices): {@code 4 · P}; at Mamba-130M's
 *       P = 129,135,360 that is 516.5 MB, about 127 us at 4.06 TB/s;</li>
 *   <li>bf16: 2 bytes per matrix parameter (the bf16 copies of in_proj, x_proj, dt_proj and out_proj of every layer
 *       and of the head: P_mm, {@link BenchSetup#matrixParameters}) and 4 bytes per other parameter (norms, conv1d,
 *       dt bias, A_log, D, read as float32): {@code 2 · P_mm + 4 · (P − P_mm)}; at Mamba-130M's P_mm = 128,268,288
 *       that is 260.0 MB, about 64 us at 4.06 TB/s. The fp32 masters of the matrices are not read by a step (the
 *       embedding lookup reads B rows of the fp32 embedding: left out).</li>
 * </ul>
 * What every floor leaves out: the logits' (B, V) copy to the host per step (3.2 MB at B 16), the state's read and
 * write (B · layers · d_inner · (d_state + d_conv) floats), the activations' conversions to bf16, the host argmax
 * and the plan's per-call uploads.
 *
 * <p>Methods: {@code none} (the base model), {@code state-offset} (h' per layer through the real plugin, as
 * TrainStepBench builds it, but initialised {@code normal} so that the offset changes what is decoded).
 *
 * <p>Prints a header (backend, shape, precisions, machine load, copy bandwidth and floors), a table (one row per
 * precision and batch), the checks of each precision and one {@code BENCH {json}} line per result.
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.ssmpeft.runtime.cuda.bench.DecodeBench \
 *     [--backend cpu|cuda] [--shape 130m|tiny] [--batch 1,16] [--prompt 16] [--new 128] \
 *     [--method none|state-offset] [--precision fp32|tf32|bf16|fp32,tf32,bf16] [--warmup 2] [--reps 5] \
 *     [--loop decoder|step|decoder,step]</pre>
 */
public final class DecodeBench {

    /** A method of the benchmark: its row name and the adapter config the plugin reads (empty: the base model). */
    enum Method {
        NONE("none", ""),
        STATE_OFFSET("state-offset", "method: state-offset\nvariant: h\ninit: normal\n");

        final String row;
        final String config;

        Method(String row, String config) {
            this.row = row;
            this.config = config;
        }

        static Method of(String name) {
            return BenchOptions.choose(name, values(), m -> m.row, "--method: unknown method '%s'; expected one of: ");
        }
    }

    /**
     * How the tokens are chosen: {@code decoder} through the model's {@link Decoder} (on cuda the step is a replayed
     * graph and the ranking runs on the device: only B ids come back), {@code step} through {@link SsmModel#step}
     * and the argmax of its (B, V) logits on the host.
     */
    enum Loop {
        DECODER("decoder"),
        STEP("step");

        final String row;

        Loop(String row) {
            this.row = row;
        }

        static Loop of(String name) {
            return BenchOptions.choose(name, values(), l -> l.row, "--loop: unknown loop '%s'; expected one of: ");
        }
    }

    record Options(String backend, String shape, List<Integer> batches, int prompt, int newTokens, Method method,
                   List<Precision> precisions, int warmup, int reps, long seed, List<Loop> loops, boolean mixed) {

        static final String USAGE = "options: --backend NAME (default: the preferred available one), --shape 130m|tiny"
                + " (130m), --batch B,B... (1,16), --prompt P (16), --new N (128), --method none|state-offset (none),"
                + " --precision fp32|tf32|bf16, or a list: fp32,tf32,bf16 (fp32,bf16), --warmup N (2), --reps N (5),"
                + " --seed S (0), --loop decoder|step|decoder,step (decoder,step), --mixed true|false (false: the"
                + " mixed-adapter serving figure at the largest batch)";

        static Options parse(String[] args) {
            BenchOptions v = BenchOptions.parse(args, List.of("--backend", "--shape", "--batch", "--prompt", "--new",
                    "--method", "--precision", "--warmup", "--reps", "--seed", "--loop", "--mixed"), USAGE);
            List<Integer> batches = new ArrayList<>();
            for (String s : v.text("--batch", "1,16").split(",")) {
                int b = BenchOptions.whole("--batch", s.trim());
                if (b < 1) {
                    throw new IllegalArgumentException("--batch: every batch must be >= 1, found " + b);
                }
                if (!batches.contains(b)) {
                    batches.add(b);
                }
            }
            List<Precision> precisions = v.precisions("fp32,bf16").stream().distinct().toList();
            List<Loop> loops = java.util.stream.Stream.of(v.text("--loop", "decoder,step").split(","))
                    .map(String::trim).map(Loop::of).distinct().toList();
            Options o = new Options(v.text("--backend", ""), v.text("--shape", "130m"), List.copyOf(batches),
                    v.positive("--prompt", 16), v.positive("--new", 128), Method.of(v.text("--method", "none")),
                    precisions, v.count("--warmup", 2), v.positive("--reps", 5), v.seed(), loops,
                    Boolean.parseBoolean(v.text("--mixed", "false")));
            v.shape();
            return o;
        }
    }

    /**
     * The weight-read floor of one decode step: every parameter read once at the copy bandwidth.
     *
     * @param parameterBytes the bytes a step of the precision reads, every parameter once (the tied head once):
     *                       {@link #parameterBytes(MambaConfig, Precision)}
     * @param copyGBs        device-to-device copy bandwidth, read + write counted, GB/s (1e9 bytes)
     */
    record Floor(long parameterBytes, double copyGBs) {

        static Floor of(MambaConfig c, Precision precision, double copyGBs) {
            return new Floor(parameterBytes(c, precision), copyGBs);
        }

        /**
         * fp32, tf32: {@code 4 · P}; bf16: {@code 2 · P_mm + 4 · (P − P_mm)}, P_mm the matrix products' weights
         * ({@link BenchSetup#matrixParameters}: a bf16 model's products read their bf16 copies), the rest float32.
         */
        static long parameterBytes(MambaConfig c, Precision precision) {
            long all = c.parameterCount();
            long matrices = precision == Precision.BF16 ? BenchSetup.matrixParameters(c) : 0;
            return Math.addExact(Math.multiplyExact(matrices, 2L),
                    Math.multiplyExact(all - matrices, (long) Float.BYTES));
        }

        /** {@code parameterBytes / copy bandwidth}, in microseconds. */
        double micros() {
            return parameterBytes / (copyGBs * 1e9) * 1e6;
        }

        /** How many floors a step of {@code stepMs} takes. */
        double ratio(double stepMs) {
            return stepMs * 1e3 / micros();
        }
    }

    /** {@code batch · newTokens} tokens in {@code ms}, per second. */
    static double tokensPerSecond(int batch, int newTokens, double ms) {
        return (double) batch * newTokens / (ms / 1e3);
    }

    /** The greedy token of each row of (B, V) logits: the first largest (ties to the lower id); non-finite fails. */
    static int[] argmax(float[] logits, int batch, int vocab) {
        int[] out = new int[batch];
        for (int b = 0; b < batch; b++) {
            int o = b * vocab, best = 0;
            for (int v = 1; v < vocab; v++) {
                if (logits[o + v] > logits[o + best]) {
                    best = v;
                }
            }
            if (!Float.isFinite(logits[o + best])) {
                throw new IllegalStateException("row " + b + ": the largest logit is " + logits[o + best]
                        + "; the model produced non-finite logits");
            }
            out[b] = best;
        }
        return out;
    }

    /** The first position where {@code a} and {@code b} differ, or -1 when they are equal. */
    static int firstDifference(int[] a, int[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return a.length == b.length ? -1 : Math.min(a.length, b.length);
    }

    /**
     * One batch's timings (ms), the tokens of its last timed repetition (B, new) and row 0's largest logit at each new
     * token (what the rows-agree check compares besides the tokens: a random-weight model often repeats one token).
     */
    record Result(int batch, double[] prefillMs, double[] generateMs, double[] stepMs, double[] spiStepMs,
                  double[] argmaxMs, int[][] tokens, float[] row0Top) {
    }

    /** The largest {@code |a_i - b_i| / max(1, |b_i|)}. */
    static double maxRelativeDifference(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1.0, Math.abs(b[i])));
        }
        return worst;
    }

    /**
     * Row 0's top logit of another batch may differ from batch 1's by rounding (other product shapes), not more: 1e-3
     * relative at fp32; with reduced-precision products an operand rounded the other way moves by one unit of the
     * format, so there four units (tf32 2^-11, bf16 2^-8) when that is more.
     */
    static double rowTolerance(Precision precision) {
        return switch (precision) {
            case FLOAT32 -> 1e-3;
            case TF32 -> Math.max(1e-3, 4 * 0x1p-11);
            case BF16 -> Math.max(1e-3, 4 * 0x1p-8);
        };
    }

    private DecodeBench() {
    }

    public static void main(String[] args) throws Exception {
        int code = run(args, System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /**
     * The benchmark, printing to {@code out} (errors of the options to {@code err}); its exit code: 0, 2 (bad options),
     * 3 (no such backend here), 4 (a check failed).
     */
    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("DecodeBench: " + e.getMessage());
            return 2;
        }
        Optional<BenchSetup> selected = BenchSetup.select("decode", o.backend, o.shape, out);
        if (selected.isEmpty()) {
            return 3;
        }
        BenchSetup setup = selected.get();
        BackendProvider backend = setup.backend;
        MambaConfig config = setup.config;
        setup.header(out, o.seed, String.format(Locale.ROOT, "method %s; prompt %d, %d new tokens, greedy; batch %s;"
                        + " warm-up %d, timed %d repetitions", o.method.row, o.prompt, o.newTokens,
                String.join(",", o.batches.stream().map(String::valueOf).toList()), o.warmup, o.reps));
        setup.precisionLine(out, o.precisions, "products only: norms, conv, scan, the state and the master weights"
                + " are float32 in every mode; bf16 products read bf16 copies of the base matrices");
        out.println("decoding: the SsmModel state API (prefill = one forward on a fresh state, then one step"
                + " per new token, argmax on the host); Generator decodes one sequence, so it checks batch 1 only");

        boolean cuda = backend.name().equals("cuda");
        try (CudaContext ctx = cuda ? CudaContext.open(0) : null) {
            double copyGBs = Double.NaN;
            if (ctx != null) {
                BenchSetup.deviceLine(out, ctx);
                copyGBs = ScanBench.copyBandwidth(ctx);
                Floor fp32 = Floor.of(config, Precision.FLOAT32, copyGBs);
                Floor bf16 = Floor.of(config, Precision.BF16, copyGBs);
                out.printf(Locale.ROOT, "copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s;"
                        + " weight-read floor per step (every parameter once, the tied head once) / bandwidth:"
                        + " fp32 and tf32 %,d bytes (4 per parameter) = %.1f us, bf16 %,d bytes (2 per matrix"
                        + " parameter, 4 per other) = %.1f us%n", copyGBs, fp32.parameterBytes(), fp32.micros(),
                        bf16.parameterBytes(), bf16.micros());
                out.printf(Locale.ROOT, "BENCH {\"bench\":\"copy\",\"bytes\":%d,\"copy_gb_s\":%.1f,"
                        + "\"parameter_bytes\":%d,\"floor_us\":%.2f,\"bf16_parameter_bytes\":%d,"
                        + "\"bf16_floor_us\":%.2f}%n", 1L << 30, copyGBs, fp32.parameterBytes(), fp32.micros(),
                        bf16.parameterBytes(), bf16.micros());
            }
            MambaWeights weights = setup.weights(o.seed);
            int[][] prompts = BenchSetup.randomTokens(o.seed, 1,
                    o.batches.stream().mapToInt(Integer::intValue).max().orElse(1), o.prompt, config.vocabSize());
            AdapterSet methodAdapters = o.method == Method.NONE ? null : BenchSetup.adapters(
                    new AdapterFactory(PeftMethods.load()), o.method.config, weights, o.seed);
            List<String> rows = new ArrayList<>();
            List<String> checks = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            for (Precision precision : o.precisions) {
                Optional<String> refusal = setup.refusal(weights.withPrecision(precision));
                if (refusal.isPresent()) {
                    String why = "precision " + precision + ": " + refusal.get() + "; skipped";
                    out.println(why);
                    for (int b : o.batches) {
                        out.println("BENCH {\"bench\":\"decode\",\"backend\":" + quote(backend.name())
                                + ",\"shape\":" + quote(o.shape) + ",\"method\":" + quote(o.method.row)
                                + ",\"precision\":" + quote(precision.id()) + ",\"batch\":" + b + ",\"skipped\":"
                                + quote(why) + "}");
                    }
                    continue;
                }
                Optional<Floor> floor = ctx == null ? Optional.empty()
                        : Optional.of(Floor.of(config, precision, copyGBs));
                SsmModel model = setup.model(weights, precision);
                try {
                    AdapterSet adapters = methodAdapters == null ? model.noAdapters() : methodAdapters;
                    if (model instanceof CudaMamba m) {
                        out.printf(Locale.ROOT, "%s model on %s: %,d bytes of resident base weights%s%n", precision,
                                m.deviceName(), m.weightBytes(), precision == Precision.BF16
                                        ? " (the fp32 masters and the matrices' bf16 copies)" : "");
                    }
                    Map<Loop, Map<Integer, Result>> byLoop = new LinkedHashMap<>();
                    for (Loop loop : o.loops) {
                        Map<Integer, Result> results = new LinkedHashMap<>();
                        for (int b : o.batches) {
                            Result r = decode(model, adapters, Arrays.copyOf(prompts, b), o, precision, loop,
                                    failures);
                            results.put(b, r);
                            rows.add(report(out, r, setup, o, precision, loop, floor));
                        }
                        checks.addAll(check(model, adapters, prompts, results, o, precision, loop, failures));
                        byLoop.put(loop, results);
                    }
                    checks.add(reorderCost(model, prompts, adapters, o, precision));
                    if (o.mixed) {
                        checks.addAll(mixedServing(model, weights, prompts, o, precision, failures));
                    }
                    if (byLoop.size() == 2) {
                        checks.add(sameTokens(byLoop.get(Loop.DECODER), byLoop.get(Loop.STEP), precision,
                                failures));
                    }
                } finally {
                    setup.close(model);
                }
            }
            if (rows.isEmpty()) {
                return 0;
            }
            out.println();
            out.println("loop     batch  precision  prefill ms  step ms (median)  spi ms  argmax ms  generate ms"
                    + "  tokens/s  decode tokens/s  floor us  x floor");
            rows.forEach(out::println);
            out.println();
            checks.forEach(out::println);
            if (!failures.isEmpty()) {
                failures.forEach(f -> out.println("FAILED: " + f));
                return 4;
            }
            return 0;
        }
    }

    /** warm-up + timed repetitions of one batch, each from a fresh state. */
    private static Result decode(SsmModel model, AdapterSet adapters, int[][] prompt, Options o, Precision precision,
                                 Loop loop, List<String> failures) {
        int b = prompt.length, v = model.shape().vocab(), steps = o.newTokens - 1;
        double[] prefill = new double[o.reps], generate = new double[o.reps];
        double[] step = new double[o.reps * steps], spi = new double[o.reps * steps], argmax = new double[o.reps * steps];
        int[][] tokens = null;
        float[] top = null;
        for (int rep = -o.warmup; rep < o.reps; rep++) {
            int[][] out = new int[b][o.newTokens];
            float[] row0 = new float[o.newTokens];
            try (SsmState state = model.newState(b); Chooser chooser = loop == Loop.DECODER
                    ? decoderChooser(model.decoder(adapters, state)) : stepChooser(model, adapters, state, v)) {
                long t0 = System.nanoTime();
                Chosen c = chooser.prefill(prompt);
                long t1 = System.nanoTime();
                put(out, 0, c.ids());
                row0[0] = c.row0Score();
                for (int n = 1; n <= steps; n++) {
                    long s0 = System.nanoTime();
                    c = chooser.step(c.ids());
                    long s1 = System.nanoTime();
                    put(out, n, c.ids());
                    row0[n] = c.row0Score();
                    if (rep >= 0) {
                        int at = rep * steps + n - 1;
                        step[at] = (s1 - s0) / 1e6;
                        argmax[at] = c.argmaxNanos() / 1e6;
                        spi[at] = step[at] - argmax[at];
                    }
                }
                long end = System.nanoTime();
                if (rep >= 0) {
                    prefill[rep] = (t1 - t0) / 1e6;
                    generate[rep] = (end - t0) / 1e6;
                }
            }
            if (tokens != null && !Arrays.deepEquals(tokens, out)) {
                failures.add(precision + " " + loop.row + " batch " + b + ": repetition " + (rep + o.warmup + 1)
                        + " decoded other"
                        + " tokens than the one before (the same prompt from a fresh state must decode the same)");
            }
            tokens = out;
            top = row0;
        }
        return new Result(b, prefill, generate, step, spi, argmax, tokens, top);
    }

    /**
     * A call's chosen tokens (B), row 0's score (its top logit in the step loop, its log-probability in the decoder
     * loop) and the time the host spent choosing them (the step loop's argmax; 0 where the device ranks).
     */
    private record Chosen(int[] ids, float row0Score, long argmaxNanos) {
    }

    /** One loop's way of choosing the next tokens: the prefill of the prompts, then a step per token. */
    private interface Chooser extends AutoCloseable {
        Chosen prefill(int[][] prompt);

        Chosen step(int[] tokens);

        @Override
        void close();
    }

    // the model's decoder: the best token per row comes back ranked
    private static Chooser decoderChooser(Decoder decoder) {
        int[] none = {};
        return new Chooser() {
            @Override
            public Chosen prefill(int[][] prompt) {
                return chosen(decoder.prefill(prompt, 1, none));
            }

            @Override
            public Chosen step(int[] tokens) {
                return chosen(decoder.step(tokens, 1, none));
            }

            private Chosen chosen(TopTokens top) {
                return new Chosen(top.ids(), (float) top.logProb(0, 0), 0);
            }

            @Override
            public void close() {
                decoder.close();
            }
        };
    }

    // forward and step with the argmax of the (B, V) logits on the host
    private static Chooser stepChooser(SsmModel model, AdapterSet adapters, SsmState state, int v) {
        return stepChooser(p -> model.forward(p, adapters, state).last(), t -> model.step(t, adapters, state), v);
    }

    // the last logits (B, V) of a prefill and of a step, with the argmax on the host
    private static Chooser stepChooser(Function<int[][], float[]> prefill, Function<int[], float[]> step, int v) {
        return new Chooser() {
            @Override
            public Chosen prefill(int[][] prompt) {
                return chosen(prefill.apply(prompt), prompt.length);
            }

            @Override
            public Chosen step(int[] tokens) {
                return chosen(step.apply(tokens), tokens.length);
            }

            private Chosen chosen(float[] logits, int rows) {
                long t0 = System.nanoTime();
                int[] next = argmax(logits, rows, v);
                return new Chosen(next, logits[next[0]], System.nanoTime() - t0);
            }

            @Override
            public void close() {
            }
        };
    }

    private static void put(int[][] out, int n, int[] next) {
        for (int r = 0; r < out.length; r++) {
            out[r][n] = next[r];
        }
    }

    private static String report(PrintStream out, Result r, BenchSetup setup, Options o, Precision precision,
                                 Loop loop, Optional<Floor> floor) {
        double prefill = median(r.prefillMs), generate = median(r.generateMs);
        double step = r.stepMs.length == 0 ? Double.NaN : median(r.stepMs);
        double spi = r.spiStepMs.length == 0 ? Double.NaN : median(r.spiStepMs);
        double argmax = r.argmaxMs.length == 0 ? Double.NaN : median(r.argmaxMs);
        double minStep = Arrays.stream(r.stepMs).min().orElse(Double.NaN);
        double tokensPerSecond = tokensPerSecond(r.batch, o.newTokens, generate);
        double decodeTokensPerSecond = tokensPerSecond(r.batch, 1, step);
        double floorUs = floor.map(Floor::micros).orElse(Double.NaN);
        double ratio = floor.map(f -> f.ratio(step)).orElse(Double.NaN);
        out.printf(Locale.ROOT, "BENCH {\"bench\":\"decode\",\"loop\":%s,\"backend\":%s,\"shape\":%s,\"method\":%s,"
                        + "\"precision\":%s,\"batch\":%d,\"prompt\":%d,\"new_tokens\":%d,\"warmup\":%d,"
                        + "\"reps\":%d,\"prefill_ms\":%.3f,\"step_ms\":%.4f,\"step_min_ms\":%.4f,\"spi_step_ms\":%.4f,"
                        + "\"argmax_ms\":%.4f,\"generate_ms\":%.3f,\"tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f,"
                        + "\"parameter_bytes\":%s,\"copy_gb_s\":%s,\"floor_us\":%s,\"x_floor\":%s,\"load\":%s}%n",
                quote(loop.row), quote(setup.backend.name()), quote(o.shape), quote(o.method.row),
                quote(precision.id()), r.batch,
                o.prompt, o.newTokens, o.warmup, o.reps, prefill, step, minStep, spi, argmax, generate,
                tokensPerSecond, decodeTokensPerSecond,
                floor.map(f -> String.valueOf(f.parameterBytes())).orElse("null"),
                json(floor.map(Floor::copyGBs).orElse(Double.NaN), "%.1f"), json(floorUs, "%.2f"),
                json(ratio, "%.2f"), quote(loadAverage()));
        return String.format(Locale.ROOT, "%-7s %6d  %-9s %11.3f %17.4f %7.4f %10.4f %12.2f %9.1f %16.1f %9s %8s",
                loop.row, r.batch, precision, prefill, step, spi, argmax, generate, tokensPerSecond,
                decodeTokensPerSecond,
                Double.isNaN(floorUs) ? "n/a" : String.format(Locale.ROOT, "%.1f", floorUs),
                Double.isNaN(ratio) ? "n/a" : String.format(Locale.ROOT, "%.1f", ratio));
    }

    /**
     * Within one precision's model: row 0 of every batch decodes what a batch-1 run of the same prompt decodes, and
     * the batch-1 loop decodes what {@link Generator#greedy} does (min new tokens = max, no stop token: always
     * {@code new} tokens). The lines to print: what was found and its {@code BENCH} line.
     */
    private static List<String> check(SsmModel model, AdapterSet adapters, int[][] prompts,
                                      Map<Integer, Result> results, Options o, Precision precision, Loop loop,
                                      List<String> failures) {
        Result one = results.containsKey(1) ? results.get(1)
                : decode(model, adapters, new int[][] {prompts[0]}, new Options(o.backend, o.shape, List.of(1),
                        o.prompt, o.newTokens, o.method, o.precisions, 0, 1, o.seed, o.loops, false), precision,
                        loop,
                        failures);
        double tolerance = rowTolerance(precision);
        int[] single = one.tokens[0];
        boolean agree = true;
        double worst = 0;
        long distinct = 0;
        for (Result r : results.values()) {
            int at = firstDifference(single, r.tokens[0]);
            if (at >= 0) {
                agree = false;
                // a near tie that rounding flips shows small top-logit differences up to the flip; a bug, large ones
                failures.add(precision + " " + loop.row + " batch " + r.batch + ": row 0 decoded " + r.tokens[0][at]
                        + " at new token "
                        + at + " where batch 1 decoded " + single[at] + " (same prompt, same state API); up to there"
                        + " the top logits differed by " + String.format(Locale.ROOT, "%.1e", maxRelativeDifference(
                        Arrays.copyOf(r.row0Top, at + 1), Arrays.copyOf(one.row0Top, at + 1))) + " relative");
            }
            double d = at >= 0 ? 0 : maxRelativeDifference(r.row0Top, one.row0Top);
            worst = Math.max(worst, d);
            if (d > tolerance) {
                agree = false;
                failures.add(precision + " " + loop.row + " batch " + r.batch + ": row 0's top scores differ from"
                        + " batch 1's by " + d
                        + " (relative), over the " + tolerance + " that rounding explains");
            }
            distinct = Math.max(distinct, Arrays.stream(r.tokens).flatMapToInt(Arrays::stream).distinct().count());
        }
        Generation g = new Generator(model, adapters).greedy(prompts[0],
                GenerationOptions.greedy(o.newTokens).withMinNewTokens(o.newTokens));
        int at = firstDifference(single, g.tokens());
        if (at >= 0) {
            failures.add(precision + ": Generator.greedy decoded " + (at < g.tokens().length ? g.tokens()[at]
                    : "nothing") + " at new token " + at + " where the batch-1 loop decoded " + single[at]);
        }
        return List.of(precision + " " + loop.row + " " + (agree ? "rows agree" : "ROWS DISAGREE") + ": row 0 of batch "
                        + String.join(", ", results.keySet().stream().map(String::valueOf).toList())
                        + " against batch 1 (" + o.newTokens + " greedy tokens; top logits within "
                        + String.format(Locale.ROOT, "%.1e", worst) + " relative); Generator.greedy "
                        + (at < 0 ? "agrees" : "DISAGREES") + " with the batch-1 loop; row 0 decoded "
                        + Arrays.stream(single).distinct().count() + " distinct tokens, first "
                        + Arrays.toString(Arrays.copyOf(single, Math.min(8, single.length))) + "; up to " + distinct
                        + " distinct over a batch's rows",
                String.format(Locale.ROOT, "BENCH {\"bench\":\"decode-check\",\"loop\":%s,\"precision\":%s,"
                        + "\"rows_agree\":%b,"
                        + "\"generator_agrees\":%b,\"top_logit_max_rel_diff\":%.3e,\"row0_distinct_tokens\":%d,"
                        + "\"batches\":%s}", quote(loop.row), quote(precision.id()), agree, at < 0, worst,
                        Arrays.stream(single).distinct().count(), results.keySet()));
    }

    /**
     * The mixed-adapter serving figure (issue: GPU inference): B rows (the largest batch), each under its own state
     * offset (h, initialised {@code normal}, seed per row), in one batch, against the same B rows all under row 0's
     * offset, through each loop of the run: the mixed decoder ({@link SsmModel#decoder(List, SsmState)}, on cuda one
     * replayed step with the offsets read per row) or the per-row step ({@link SsmModel#step(int[], List,
     * SsmState)}) with the argmax on the host. Median step time of each, the second of two repetitions; and a check
     * that the first and the last row decode, in the mixed batch, the tokens they decode alone under their offset.
     * The lines to print (with their BENCH lines).
     */
    private static List<String> mixedServing(SsmModel model, MambaWeights weights, int[][] prompts, Options o,
                                             Precision precision, List<String> failures) {
        int b = prompts.length;
        var factory = new AdapterFactory(PeftMethods.load());
        List<AdapterSet> distinct = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            distinct.add(BenchSetup.adapters(factory, Method.STATE_OFFSET.config, weights, o.seed + 1 + r));
        }
        List<AdapterSet> same = java.util.Collections.nCopies(b, distinct.get(0));
        List<String> lines = new ArrayList<>();
        for (Loop loop : o.loops) {
            Served mixed = serve(model, prompts, distinct, o, loop);
            Served one = serve(model, prompts, same, o, loop);
            lines.add(String.format(Locale.ROOT, "%s mixed-adapter serving (%s loop), batch %d: %d different state"
                            + " offsets %.3f ms a step (%.1f tokens/s), one offset for every row %.3f ms (%.1f"
                            + " tokens/s): %.2fx", precision, loop.row, b, b, mixed.stepMs, b * 1e3 / mixed.stepMs,
                    one.stepMs, b * 1e3 / one.stepMs, mixed.stepMs / one.stepMs)
                    + String.format(Locale.ROOT, "%nBENCH {\"bench\":\"decode-mixed\",\"loop\":%s,"
                            + "\"precision\":%s,\"batch\":%d,\"mixed_step_ms\":%.4f,\"same_step_ms\":%.4f,"
                            + "\"backend\":%s}", quote(loop.row), quote(precision.id()), b, mixed.stepMs, one.stepMs,
                    quote(model.backend())));
            List<String> differ = new ArrayList<>();
            for (int r : b == 1 ? new int[] {0} : new int[] {0, b - 1}) {
                Served alone = serve(model, new int[][] {prompts[r]}, List.of(distinct.get(r)), o, loop);
                int at = firstDifference(mixed.tokens[r], alone.tokens[0]);
                if (at >= 0) {
                    differ.add("row " + r + " at new token " + at);
                    failures.add(precision + " " + loop.row + " loop: row " + r + " of the mixed-adapter batch"
                            + " decoded " + mixed.tokens[r][at] + " at new token " + at + " where the row alone"
                            + " decoded " + alone.tokens[0][at]);
                }
            }
            lines.add(precision + " mixed-adapter rows vs alone (" + loop.row + " loop): " + (differ.isEmpty()
                    ? "the first and last rows decode the tokens they decode alone" : "DIFFER ("
                    + String.join("; ", differ) + ")"));
        }
        return lines;
    }

    /**
     * What beam search pays per step besides the step: the state's reorder at the largest batch (every beam's rows
     * moved, here reversed), median of 50 after a prefill of the prompts; the line to print (and its BENCH line).
     */
    private static String reorderCost(SsmModel model, int[][] prompts, AdapterSet adapters, Options o,
                                      Precision precision) {
        int b = prompts.length;
        int[] reversed = new int[b];
        for (int r = 0; r < b; r++) {
            reversed[r] = b - 1 - r;
        }
        double[] ms = new double[50];
        try (SsmState state = model.newState(b)) {
            model.forward(prompts, adapters, state);
            state.reorder(reversed); // warm-up
            for (int i = 0; i < ms.length; i++) {
                long t0 = System.nanoTime();
                state.reorder(reversed);
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        double median = median(ms);
        return String.format(Locale.ROOT, "%s state reorder (beam search's per-step move of the rows), batch %d:"
                        + " %.4f ms (median of %d)%nBENCH {\"bench\":\"decode-reorder\",\"precision\":%s,\"batch\":%d,"
                        + "\"reorder_ms\":%.4f,\"backend\":%s}", precision, b, median, ms.length,
                quote(precision.id()), b, median, quote(model.backend()));
    }

    /** A served batch: its median step time and its tokens (B, new). */
    private record Served(double stepMs, int[][] tokens) {
    }

    // prefill + new − 1 steps of a per-row batch through the loop, the second of two repetitions timed
    private static Served serve(SsmModel model, int[][] prompts, List<AdapterSet> perRow, Options o, Loop loop) {
        int v = model.shape().vocab();
        double[] ms = new double[o.newTokens - 1];
        int[][] out = new int[prompts.length][o.newTokens];
        for (int rep = 0; rep < 2; rep++) {
            try (SsmState state = model.newState(prompts.length); Chooser chooser = loop == Loop.DECODER
                    ? decoderChooser(model.decoder(perRow, state))
                    : stepChooser(p -> model.forward(p, perRow, state).last(), t -> model.step(t, perRow, state), v)) {
                Chosen c = chooser.prefill(prompts);
                put(out, 0, c.ids());
                for (int n = 1; n < o.newTokens; n++) {
                    long t0 = System.nanoTime();
                    c = chooser.step(c.ids());
                    ms[n - 1] = (System.nanoTime() - t0) / 1e6;
                    put(out, n, c.ids());
                }
            }
        }
        return new Served(ms.length == 0 ? Double.NaN : median(ms), out);
    }

    /**
     * The decoder loop's tokens equal the step loop's, batch by batch (on cuda: the replayed graph and the device's
     * ranking against the model's step and the host argmax); the line to print.
     */
    private static String sameTokens(Map<Integer, Result> decoder, Map<Integer, Result> step, Precision precision,
                                     List<String> failures) {
        List<String> differ = new ArrayList<>();
        for (int b : decoder.keySet()) {
            int[][] d = decoder.get(b).tokens;
            int[][] st = step.get(b).tokens;
            for (int r = 0; r < d.length; r++) {
                int at = firstDifference(d[r], st[r]);
                if (at >= 0) {
                    differ.add("batch " + b + " row " + r + " at new token " + at);
                    failures.add(precision + " batch " + b + ": the decoder loop decoded " + d[r][at] + " at new"
                            + " token " + at + " of row " + r + " where the step loop decoded " + st[r][at]);
                    break;
                }
            }
        }
        return precision + " decoder vs step loop: " + (differ.isEmpty() ? "the same tokens in every batch and row"
                : "DIFFER (" + String.join("; ", differ) + ")");
    }
}
