package org.ssmpeft.runtime.cuda.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;
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
 * <p>Weight-read floor ({@code cuda} only): a decode step must read every parameter once, so its floor is
 * {@code bytes per parameter · parameters / copy bandwidth} (the tied head counted once: it is the embedding; fp32:
 * 4 bytes), the bandwidth being ScanBench's 1 GiB device-to-device copy (read + write) measured in the same run. At
 * Mamba-130M's 129,135,360 parameters that is 516.5 MB, about 127 us at 4.06 TB/s. What the floor leaves out: the
 * logits' (B, V) copy to the host per step (3.2 MB at B 16), the state's read and write (B · layers · d_inner ·
 * (d_state + d_conv) floats), the host argmax and the plan's per-call uploads.
 *
 * <p>Precision: the model has no precision option yet ({@link org.ssmpeft.runtime.backend.ModelSpec} carries none),
 * so every backend runs fp32 weights and bf16 rows are reported as skipped.
 *
 * <p>Methods: {@code none} (the base model), {@code state-offset} (h' per layer through the real plugin, as
 * TrainStepBench builds it, but initialised {@code normal} so that the offset changes what is decoded).
 *
 * <p>Prints a header (backend, shape, precision, machine load, copy bandwidth and floor), a table and one
 * {@code BENCH {json}} line per result.
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... org.ssmpeft.runtime.cuda.bench.DecodeBench \
 *     [--backend cpu|cuda] [--shape 130m|tiny] [--batch 1,16] [--prompt 16] [--new 128] \
 *     [--method none|state-offset] [--precision fp32,bf16] [--warmup 2] [--reps 5]</pre>
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
            for (Method m : values()) {
                if (m.row.equals(name)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("--method: unknown method '" + name + "'; expected one of: "
                    + String.join(", ", Arrays.stream(values()).map(m -> m.row).toList()));
        }
    }

    record Options(String backend, String shape, List<Integer> batches, int prompt, int newTokens, Method method,
                   List<String> precisions, int warmup, int reps, long seed) {

        static final String USAGE = "options: --backend NAME (default: the preferred available one), --shape 130m|tiny"
                + " (130m), --batch B,B... (1,16), --prompt P (16), --new N (128), --method none|state-offset (none),"
                + " --precision fp32|bf16|fp32,bf16 (fp32,bf16), --warmup N (2), --reps N (5), --seed S (0)";

        static Options parse(String[] args) {
            Map<String, String> v = new LinkedHashMap<>();
            List<String> known = List.of("--backend", "--shape", "--batch", "--prompt", "--new", "--method",
                    "--precision", "--warmup", "--reps", "--seed");
            for (int i = 0; i < args.length; i++) {
                if (!known.contains(args[i])) {
                    throw new IllegalArgumentException("unknown option '" + args[i] + "'; " + USAGE);
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value; " + USAGE);
                }
                v.put(args[i], args[++i]);
            }
            List<Integer> batches = new ArrayList<>();
            for (String s : v.getOrDefault("--batch", "1,16").split(",")) {
                int b = whole("--batch", s.trim());
                if (b < 1) {
                    throw new IllegalArgumentException("--batch: every batch must be >= 1, found " + b);
                }
                if (!batches.contains(b)) {
                    batches.add(b);
                }
            }
            List<String> precisions = Arrays.stream(v.getOrDefault("--precision", "fp32,bf16").split(","))
                    .map(String::trim).toList();
            for (String p : precisions) {
                if (!p.equals("fp32") && !p.equals("bf16")) {
                    throw new IllegalArgumentException("--precision: unknown precision '" + p + "'; expected fp32,"
                            + " bf16 or both (fp32,bf16)");
                }
            }
            Options o = new Options(v.getOrDefault("--backend", ""), v.getOrDefault("--shape", "130m"),
                    List.copyOf(batches), positive(v, "--prompt", 16), positive(v, "--new", 128),
                    Method.of(v.getOrDefault("--method", "none")), precisions, count(v, "--warmup", 2),
                    positive(v, "--reps", 5), Long.parseLong(v.getOrDefault("--seed", "0")));
            TrainStepBench.shape(o.shape); // an unknown shape fails here, before any work
            return o;
        }

        private static int positive(Map<String, String> v, String key, int fallback) {
            int n = count(v, key, fallback);
            if (n < 1) {
                throw new IllegalArgumentException(key + " must be >= 1, found " + n);
            }
            return n;
        }

        private static int count(Map<String, String> v, String key, int fallback) {
            String s = v.get(key);
            int n = s == null ? fallback : whole(key, s);
            if (n < 0) {
                throw new IllegalArgumentException(key + " must be >= 0, found " + n);
            }
            return n;
        }

        private static int whole(String key, String s) {
            try {
                return Integer.parseInt(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + " expects a whole number, found '" + s + "'", e);
            }
        }
    }

    /**
     * The weight-read floor of one decode step: every parameter read once at the copy bandwidth.
     *
     * @param parameterBytes bytes per parameter · parameters (the tied head once)
     * @param copyGBs        device-to-device copy bandwidth, read + write counted, GB/s (1e9 bytes)
     */
    record Floor(long parameterBytes, double copyGBs) {

        static Floor of(MambaConfig c, int bytesPerParameter, double copyGBs) {
            return new Floor(Math.multiplyExact(c.parameterCount(), (long) bytesPerParameter), copyGBs);
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

    /** Whether the model offers {@code precision} weights: fp32 only until {@code ModelSpec} has a precision option. */
    static boolean offered(String precision) {
        return precision.equals("fp32");
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

    /** Row 0's top logit of another batch may differ from batch 1's by rounding (other product shapes), not more. */
    static final double ROW_TOLERANCE = 1e-3;

    private DecodeBench() {
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("DecodeBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Backends backends = Backends.load();
        BackendProvider backend;
        MambaConfig config = TrainStepBench.shape(o.shape);
        try {
            backend = backends.select(o.backend.isEmpty() ? Optional.empty() : Optional.of(o.backend),
                    config.toShape().family());
        } catch (RuntimeException e) {
            System.out.println("backend: " + e.getMessage());
            System.out.println("BENCH {\"bench\":\"decode\",\"backend\":" + quote(o.backend) + ",\"skipped\":"
                    + quote(e.getMessage()) + "}");
            System.exit(3);
            return;
        }
        System.out.printf(Locale.ROOT, "decode bench: backend %s (%s)%n", backend.name(), backend.description());
        System.out.printf(Locale.ROOT, "shape %s: %d layers, d_model %d, d_inner %d, d_state %d, dt_rank %d, vocab %d,"
                        + " %,d parameters (random, seed %d); method %s; prompt %d, %d new tokens, greedy; batch %s;"
                        + " warm-up %d, timed %d repetitions%n",
                o.shape, config.layers(), config.dModel(), config.dInner(), config.dState(), config.dtRank(),
                config.vocabSize(), config.parameterCount(), o.seed, o.method.row, o.prompt, o.newTokens,
                String.join(",", o.batches.stream().map(String::valueOf).toList()), o.warmup, o.reps);
        System.out.printf(Locale.ROOT, "machine: %d cores, load %s (/proc/loadavg), java %s, max heap %.1f GiB%n",
                Runtime.getRuntime().availableProcessors(), TrainStepBench.loadAverage(), Runtime.version(),
                Runtime.getRuntime().maxMemory() / (double) (1L << 30));
        System.out.println("precision: fp32 (bf16 weights: not offered by the model yet)");
        System.out.println("decoding: the SsmModel state API (prefill = one forward on a fresh state, then one step"
                + " per new token, argmax on the host); Generator decodes one sequence, so it checks batch 1 only");

        boolean cuda = backend.name().equals("cuda");
        try (CudaContext ctx = cuda ? CudaContext.open(0) : null) {
            Optional<Floor> floor = Optional.empty();
            if (ctx != null) {
                System.out.println("device: " + ctx.deviceName() + " (" + ctx.architecture() + "), driver API "
                        + ctx.driver().driverVersion());
                double copyGBs = ScanBench.copyBandwidth(ctx);
                Floor f = Floor.of(config, Float.BYTES, copyGBs);
                floor = Optional.of(f);
                System.out.printf(Locale.ROOT, "copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s;"
                        + " weight-read floor per step: %,d parameter bytes (fp32, tied head once) / bandwidth ="
                        + " %.1f us%n", copyGBs, f.parameterBytes(), f.micros());
                System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"copy\",\"bytes\":%d,\"copy_gb_s\":%.1f,"
                        + "\"parameter_bytes\":%d,\"floor_us\":%.2f}%n", 1L << 30, copyGBs, f.parameterBytes(),
                        f.micros());
            }
            for (String precision : o.precisions) {
                if (offered(precision)) {
                    continue;
                }
                String why = "precision " + precision + ": " + precision + " weights not offered by the model yet"
                        + " (ModelSpec has no precision option); skipped";
                System.out.println(why);
                for (int b : o.batches) {
                    System.out.println("BENCH {\"bench\":\"decode\",\"backend\":" + quote(backend.name())
                            + ",\"shape\":" + quote(o.shape) + ",\"method\":" + quote(o.method.row) + ",\"precision\":"
                            + quote(precision) + ",\"batch\":" + b + ",\"skipped\":" + quote(why) + "}");
                }
            }
            if (o.precisions.stream().noneMatch(DecodeBench::offered)) {
                return;
            }
            MambaWeights weights = MambaInit.initialise(config, o.seed);
            AdapterFactory factory = new AdapterFactory(PeftMethods.load());
            int[][] prompts = prompts(o, config, o.batches.stream().mapToInt(Integer::intValue).max().orElse(1));
            List<String> rows = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            SsmModel model = backend.create(weights);
            try {
                AdapterSet adapters = o.method == Method.NONE ? model.noAdapters()
                        : factory.create(factory.reader().parse(o.method.config, ConfigFormat.YAML), weights.shape(),
                                o.seed);
                if (model instanceof CudaMamba m) {
                    System.out.printf(Locale.ROOT, "model on %s: %,d bytes of resident base weights%n",
                            m.deviceName(), m.weightBytes());
                }
                Map<Integer, Result> results = new LinkedHashMap<>();
                for (int b : o.batches) {
                    Result r = run(model, adapters, Arrays.copyOf(prompts, b), o, failures);
                    results.put(b, r);
                    rows.add(report(r, backend, o, floor));
                }
                System.out.println();
                System.out.println("batch  precision  prefill ms  step ms (median)  spi ms  argmax ms  generate ms"
                        + "  tokens/s  decode tokens/s  floor us  x floor");
                rows.forEach(System.out::println);
                System.out.println();
                check(model, adapters, prompts, results, o, failures);
            } finally {
                if (model instanceof AutoCloseable c) {
                    c.close();
                }
            }
            if (!failures.isEmpty()) {
                failures.forEach(f -> System.out.println("FAILED: " + f));
                System.exit(4);
            }
        }
    }

    /** warm-up + timed repetitions of one batch, each from a fresh state. */
    private static Result run(SsmModel model, AdapterSet adapters, int[][] prompt, Options o, List<String> failures) {
        int b = prompt.length, v = model.shape().vocab(), steps = o.newTokens - 1;
        double[] prefill = new double[o.reps], generate = new double[o.reps];
        double[] step = new double[o.reps * steps], spi = new double[o.reps * steps], argmax = new double[o.reps * steps];
        int[][] tokens = null;
        float[] top = null;
        for (int rep = -o.warmup; rep < o.reps; rep++) {
            int[][] out = new int[b][o.newTokens];
            float[] row0 = new float[o.newTokens];
            try (SsmState state = model.newState(b)) {
                long t0 = System.nanoTime();
                Logits first = model.forward(prompt, adapters, state);
                float[] last = first.last();
                int[] next = argmax(last, b, v);
                long t1 = System.nanoTime();
                put(out, 0, next);
                row0[0] = last[next[0]];
                for (int n = 1; n <= steps; n++) {
                    long s0 = System.nanoTime();
                    float[] logits = model.step(next, adapters, state);
                    long s1 = System.nanoTime();
                    next = argmax(logits, b, v);
                    long s2 = System.nanoTime();
                    put(out, n, next);
                    row0[n] = logits[next[0]];
                    if (rep >= 0) {
                        int at = rep * steps + n - 1;
                        step[at] = (s2 - s0) / 1e6;
                        spi[at] = (s1 - s0) / 1e6;
                        argmax[at] = (s2 - s1) / 1e6;
                    }
                }
                long end = System.nanoTime();
                if (rep >= 0) {
                    prefill[rep] = (t1 - t0) / 1e6;
                    generate[rep] = (end - t0) / 1e6;
                }
            }
            if (tokens != null && !Arrays.deepEquals(tokens, out)) {
                failures.add("batch " + b + ": repetition " + (rep + o.warmup + 1) + " decoded other tokens than the"
                        + " one before (the same prompt from a fresh state must decode the same)");
            }
            tokens = out;
            top = row0;
        }
        return new Result(b, prefill, generate, step, spi, argmax, tokens, top);
    }

    private static void put(int[][] out, int n, int[] next) {
        for (int r = 0; r < out.length; r++) {
            out[r][n] = next[r];
        }
    }

    private static String report(Result r, BackendProvider backend, Options o, Optional<Floor> floor) {
        double prefill = median(r.prefillMs), generate = median(r.generateMs);
        double step = r.stepMs.length == 0 ? Double.NaN : median(r.stepMs);
        double spi = r.spiStepMs.length == 0 ? Double.NaN : median(r.spiStepMs);
        double argmax = r.argmaxMs.length == 0 ? Double.NaN : median(r.argmaxMs);
        double minStep = Arrays.stream(r.stepMs).min().orElse(Double.NaN);
        double tokensPerSecond = tokensPerSecond(r.batch, o.newTokens, generate);
        double decodeTokensPerSecond = tokensPerSecond(r.batch, 1, step);
        double floorUs = floor.map(Floor::micros).orElse(Double.NaN);
        double ratio = floor.map(f -> f.ratio(step)).orElse(Double.NaN);
        System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"decode\",\"backend\":%s,\"shape\":%s,\"method\":%s,"
                        + "\"precision\":\"fp32\",\"batch\":%d,\"prompt\":%d,\"new_tokens\":%d,\"warmup\":%d,"
                        + "\"reps\":%d,\"prefill_ms\":%.3f,\"step_ms\":%.4f,\"step_min_ms\":%.4f,\"spi_step_ms\":%.4f,"
                        + "\"argmax_ms\":%.4f,\"generate_ms\":%.3f,\"tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f,"
                        + "\"parameter_bytes\":%s,\"copy_gb_s\":%s,\"floor_us\":%s,\"x_floor\":%s,\"load\":%s}%n",
                quote(backend.name()), quote(o.shape), quote(o.method.row), r.batch, o.prompt, o.newTokens, o.warmup,
                o.reps, prefill, step, minStep, spi, argmax, generate, tokensPerSecond, decodeTokensPerSecond,
                floor.map(f -> String.valueOf(f.parameterBytes())).orElse("null"),
                json(floor.map(Floor::copyGBs).orElse(Double.NaN), "%.1f"), json(floorUs, "%.2f"),
                json(ratio, "%.2f"), quote(TrainStepBench.loadAverage()));
        return String.format(Locale.ROOT, "%5d  %-9s %11.3f %17.4f %7.4f %10.4f %12.2f %9.1f %16.1f %9s %8s",
                r.batch, "fp32", prefill, step, spi, argmax, generate, tokensPerSecond, decodeTokensPerSecond,
                Double.isNaN(floorUs) ? "n/a" : String.format(Locale.ROOT, "%.1f", floorUs),
                Double.isNaN(ratio) ? "n/a" : String.format(Locale.ROOT, "%.1f", ratio));
    }

    /**
     * Row 0 of every batch decodes what a batch-1 run of the same prompt decodes, and the batch-1 loop decodes what
     * {@link Generator#greedy} does (min new tokens = max, no stop token: always {@code new} tokens).
     */
    private static void check(SsmModel model, AdapterSet adapters, int[][] prompts, Map<Integer, Result> results,
                              Options o, List<String> failures) {
        Result one = results.containsKey(1) ? results.get(1)
                : run(model, adapters, new int[][] {prompts[0]}, new Options(o.backend, o.shape, List.of(1), o.prompt,
                        o.newTokens, o.method, o.precisions, 0, 1, o.seed), failures);
        int[] single = one.tokens[0];
        boolean agree = true;
        double worst = 0;
        long distinct = 0;
        for (Result r : results.values()) {
            int at = firstDifference(single, r.tokens[0]);
            if (at >= 0) {
                agree = false;
                // a near tie that rounding flips shows small top-logit differences up to the flip; a bug, large ones
                failures.add("batch " + r.batch + ": row 0 decoded " + r.tokens[0][at] + " at new token " + at
                        + " where batch 1 decoded " + single[at] + " (same prompt, same state API); up to there the"
                        + " top logits differed by " + String.format(Locale.ROOT, "%.1e", maxRelativeDifference(
                        Arrays.copyOf(r.row0Top, at + 1), Arrays.copyOf(one.row0Top, at + 1))) + " relative");
            }
            double d = at >= 0 ? 0 : maxRelativeDifference(r.row0Top, one.row0Top);
            worst = Math.max(worst, d);
            if (d > ROW_TOLERANCE) {
                agree = false;
                failures.add("batch " + r.batch + ": row 0's top logits differ from batch 1's by " + d + " (relative),"
                        + " over the " + ROW_TOLERANCE + " that rounding explains");
            }
            distinct = Math.max(distinct, Arrays.stream(r.tokens).flatMapToInt(Arrays::stream).distinct().count());
        }
        Generation g = new Generator(model, adapters).greedy(prompts[0],
                GenerationOptions.greedy(o.newTokens).withMinNewTokens(o.newTokens));
        int at = firstDifference(single, g.tokens());
        if (at >= 0) {
            failures.add("Generator.greedy decoded " + (at < g.tokens().length ? g.tokens()[at] : "nothing")
                    + " at new token " + at + " where the batch-1 loop decoded " + single[at]);
        }
        System.out.println((agree ? "rows agree" : "ROWS DISAGREE") + ": row 0 of batch "
                + String.join(", ", results.keySet().stream().map(String::valueOf).toList()) + " against batch 1 ("
                + o.newTokens + " greedy tokens; top logits within " + String.format(Locale.ROOT, "%.1e", worst)
                + " relative); Generator.greedy " + (at < 0 ? "agrees" : "DISAGREES") + " with the batch-1 loop;"
                + " row 0 decoded " + Arrays.stream(single).distinct().count() + " distinct tokens, first "
                + Arrays.toString(Arrays.copyOf(single, Math.min(8, single.length))) + "; up to " + distinct
                + " distinct over a batch's rows");
        System.out.printf(Locale.ROOT, "BENCH {\"bench\":\"decode-check\",\"rows_agree\":%b,\"generator_agrees\":%b,"
                + "\"top_logit_max_rel_diff\":%.3e,\"row0_distinct_tokens\":%d,\"batches\":%s}%n", agree, at < 0,
                worst, Arrays.stream(single).distinct().count(), results.keySet());
    }

    /** (B, P) uniform random prompt tokens; a smaller batch takes the first rows, so row 0 is shared. */
    private static int[][] prompts(Options o, MambaConfig c, int batch) {
        SplittableRandom r = new SplittableRandom(o.seed * 31 + 1);
        int[][] t = new int[batch][o.prompt];
        for (int[] row : t) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(c.vocabSize());
            }
        }
        return t;
    }

    private static String json(double v, String format) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "null";
    }

    private static String quote(String s) {
        return TrainStepBench.quote(s);
    }

    private static double median(double[] v) {
        return ScanBench.median(v);
    }
}
