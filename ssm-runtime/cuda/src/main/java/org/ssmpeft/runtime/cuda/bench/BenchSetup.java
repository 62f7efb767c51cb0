package org.ssmpeft.runtime.cuda.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cuda.driver.CudaContext;

/**
 * What the model benchmarks ({@link DecodeBench}, {@link TrainStepBench}) set up alike: the shape presets, the
 * backend chosen for the shape's family, the header (backend, shape, machine, precisions, device), the random-weight
 * model in each precision and its adapters, random tokens, and the small formatting helpers of their output.
 */
final class BenchSetup {

    /** The benchmark's name in its first header line and its {@code BENCH} lines: decode, train-step. */
    final String bench;
    final BackendProvider backend;
    /** The shape's preset name ({@link #shape}) and its config. */
    final String shapeName;
    final MambaConfig config;

    private BenchSetup(String bench, BackendProvider backend, String shapeName, MambaConfig config) {
        this.bench = bench;
        this.backend = backend;
        this.shapeName = shapeName;
        this.config = config;
    }

    /** The model shapes: Mamba-130M's, and a tiny one for smoke runs on the cpu. */
    static MambaConfig shape(String name) {
        return switch (name) {
            case "130m" -> MambaConfig.of(50280, 768, 16, 24);
            case "tiny" -> MambaConfig.of(512, 64, 16, 2);
            default -> throw new IllegalArgumentException("--shape: unknown shape '" + name + "'; expected 130m or"
                    + " tiny");
        };
    }

    /**
     * The weights of every matrix product, P_mm: in_proj (d, 2D), x_proj (D, R + 2N), dt_proj (R, D), out_proj (D, d)
     * per layer and the head (V, d) once (tied: it is the embedding). The other parameters (norms, conv1d, dt bias,
     * A_log, D) are read by no product.
     */
    static long matrixParameters(MambaConfig c) {
        long d = c.dModel(), di = c.dInner(), n = c.dState(), r = c.dtRank();
        long perLayer = d * 2 * di + di * (r + 2 * n) + r * di + di * d;
        return c.layers() * perLayer + (long) c.vocabSize() * d;
    }

    /**
     * The backend named (empty: the preferred available one) for the shape's family; empty after printing why not
     * (a line and a {@code BENCH} line with {@code skipped}: the benchmark then exits 3).
     */
    static Optional<BenchSetup> select(String bench, String backendName, String shapeName, PrintStream out) {
        MambaConfig config = shape(shapeName);
        try {
            BackendProvider backend = Backends.load().select(backendName.isEmpty() ? Optional.empty()
                    : Optional.of(backendName), config.toShape().family());
            return Optional.of(new BenchSetup(bench, backend, shapeName, config));
        } catch (RuntimeException e) {
            out.println("backend: " + e.getMessage());
            out.println("BENCH {\"bench\":" + quote(bench) + ",\"backend\":" + quote(backendName) + ",\"skipped\":"
                    + quote(e.getMessage()) + "}");
            return Optional.empty();
        }
    }

    /**
     * The header's first lines: the backend, the shape (its dimensions and parameters, the seed, then
     * {@code settings}: what the benchmark runs) and the machine.
     */
    void header(PrintStream out, long seed, String settings) {
        out.printf(Locale.ROOT, "%s bench: backend %s (%s)%n", bench, backend.name(), backend.description());
        out.printf(Locale.ROOT, "shape %s: %d layers, d_model %d, d_inner %d, d_state %d, dt_rank %d, vocab %d,"
                        + " %,d parameters (random, seed %d); %s%n",
                shapeName, config.layers(), config.dModel(), config.dInner(), config.dState(), config.dtRank(),
                config.vocabSize(), config.parameterCount(), seed, settings);
        out.printf(Locale.ROOT, "machine: %d cores, load %s (/proc/loadavg), java %s, max heap %.1f GiB%n",
                Runtime.getRuntime().availableProcessors(), loadAverage(), Runtime.version(),
                Runtime.getRuntime().maxMemory() / (double) (1L << 30));
    }

    /** The header's precision line: those asked, those run, what the backend offers, then {@code note}. */
    void precisionLine(PrintStream out, List<Precision> requested, String note) {
        List<Precision> runs = runs(requested);
        out.println("precision: requested " + names(requested) + "; runs " + (runs.isEmpty() ? "none" : names(runs))
                + " (" + backend.name() + " offers " + offered() + "; " + note + ")");
    }

    /** The header's device line, when the benchmark runs on a CUDA device. */
    static void deviceLine(PrintStream out, CudaContext ctx) {
        out.println("device: " + ctx.deviceName() + " (" + ctx.architecture() + "), driver API "
                + ctx.driver().driverVersion());
    }

    /** Whether the backend computes in {@code precision} ({@link BackendProvider#precisions()}). */
    static boolean supports(BackendProvider backend, Precision precision) {
        return backend.precisions().contains(precision);
    }

    /** Of {@code requested}, those the backend offers, in order. */
    List<Precision> runs(List<Precision> requested) {
        return requested.stream().filter(p -> supports(backend, p)).toList();
    }

    /**
     * The backend's own refusal of a model of {@code spec} (its {@link BackendProvider#requirePrecision} message);
     * empty when it computes in the spec's precision.
     */
    Optional<String> refusal(ModelSpec spec) {
        try {
            backend.requirePrecision(spec);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(e.getMessage());
        }
    }

    /** The random weights of the shape: fp32, every precision's model built from them by {@link #model}. */
    MambaWeights weights(long seed) {
        return MambaInit.initialise(config, seed);
    }

    /** The backend's model of {@code weights} in {@code precision} ({@code weights.withPrecision(p)}). */
    SsmModel model(MambaWeights weights, Precision precision) {
        return backend.create(weights.withPrecision(precision));
    }

    /** Closes {@code model} where it holds resources (a device model), naming the backend when that fails. */
    void close(SsmModel model) {
        if (model instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close the " + backend.name() + " model: " + e, e);
            }
        }
    }

    /** The adapters of a YAML config from the installed method plugins, for {@code weights}' shape. */
    static AdapterSet adapters(AdapterFactory factory, String yaml, MambaWeights weights, long seed) {
        return factory.create(factory.reader().parse(yaml, ConfigFormat.YAML), weights.shape(), seed);
    }

    /** (rows, length) uniform random token ids below {@code vocab}, stream {@code stream} of {@code seed}. */
    static int[][] randomTokens(long seed, long stream, int rows, int length, int vocab) {
        SplittableRandom r = new SplittableRandom(seed * 31 + stream);
        int[][] t = new int[rows][length];
        for (int[] row : t) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(vocab);
            }
        }
        return t;
    }

    /** Precision ids in the list's order, comma-separated. */
    static String names(List<Precision> ps) {
        return String.join(", ", ps.stream().map(Precision::id).toList());
    }

    /** What the backend offers, as {@link #names} in the enum's order. */
    String offered() {
        return names(backend.precisions().stream().sorted().toList());
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : "n/a";
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    /** {@code v} in {@code format}, or {@code null} when it is not finite. */
    static String json(double v, String format) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "null";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (ch < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    static double median(double[] v) {
        return ScanBench.median(v);
    }
}
