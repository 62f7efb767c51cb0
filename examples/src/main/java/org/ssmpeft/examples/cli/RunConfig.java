package org.ssmpeft.examples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigBinder;
import org.ssmpeft.api.config.ConfigException;
import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.Range;
import org.ssmpeft.examples.tasks.BenchmarkTask;
import org.ssmpeft.runtime.data.SpiderData;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.train.LearningRateSchedule;
import org.ssmpeft.runtime.train.TrainingOptions;

/**
 * A {@code peft train} run config (YAML or JSON). Relative paths are resolved against the working directory.
 *
 * <pre>
 * task: sql                 # a bundled task (sql, triples, sentiment) or a published benchmark (spider, samsum,
 *                           #   dart, glue/rte..., jsonl; see peft eval --help)
 * data: DIR                 # the task's files, only read: peft tasks --write's, or the benchmark's published
 *                           #   files (required for a benchmark); a bundled task's default: generated from task_seed
 * spider_target: as_written # optional: Spider's training target, as_written or lower_cased (scoring always uses
 *                           #   the published gold SQL)
 * task_seed: 1              # optional (1)
 * model: DIR                # optional: config.json + model.safetensors; default: the bundled model
 * adapter:                  # inline adapter config (the format of peft config validate) or a path to one
 *   method: state-offset
 *   variant: h
 * training: {steps: 100, lr: 1e-2, batch: 8, schedule: linear, warmup: 0, seed: 42, eval_every: 0,
 *            max_grad_norm: 1.0, weight_decay: 0, checkpoint_every: 0, keep_checkpoints: 1}
 * eval: {split: test, limit: 100, beams: 1}
 * output: runs/sql-offset   # adapter/, metrics.jsonl, training-curve.png, scores.json
 * </pre>
 */
record RunConfig(String task, Path data, long taskSeed, Path model, List<AdapterConfig> adapters, int steps,
                 double lr, int batch, LearningRateSchedule.Kind schedule, int warmup, long seed, int evalEvery,
                 double maxGradNorm, double weightDecay, int checkpointEvery, int keepCheckpoints, String evalSplit,
                 int evalLimit, int beams, Path output, BenchmarkTask.Options benchmark) {

    /** The longest run config accepted, in bytes (run configs are a few hundred bytes; see AdapterConfigReader). */
    static final int MAX_CONFIG_SIZE = 256 << 10;

    /** The top level of a run config, as the binder reads it ({@code adapter}, {@code training}, {@code eval} apart). */
    public record Top(@Doc("a bundled task (sql, triples, sentiment) or a benchmark (spider, samsum, dart,"
                              + " glue/<task>, jsonl)") String task,
                      @Doc("the task's files, only read (peft tasks --write, or a benchmark's published files)")
                      String data,
                      @Doc("the task's generation seed") long taskSeed,
                      @Doc("config.json + model.safetensors") String model,
                      @Doc("the folder for the adapter, metrics.jsonl, training-curve.png and scores.json")
                      String output,
                      @Doc("Spider's training target: as_written (default) or lower_cased (the paper code's)")
                      String spiderTarget) {
        static final Top DEFAULTS = new Top(null, null, 1, null, null, "as_written");
    }

    /** {@code training:} of a run config. */
    public record Training(@Range(min = 1) int steps, double lr, @Range(min = 1) int batch,
                           LearningRateSchedule.Kind schedule, @Range(min = 0) int warmup, long seed,
                           @Range(min = 0) int evalEvery, @Range(min = 0) double maxGradNorm,
                           @Range(min = 0) double weightDecay,
                           @Doc("write a checkpoint every N steps (0: only after the last); peft train --resume"
                                   + " continues from the newest") @Range(min = 0) int checkpointEvery,
                           @Doc("keep the N newest checkpoints (0: all)") @Range(min = 0) int keepCheckpoints) {
        static final Training DEFAULTS = new Training(100, 1e-2, 8, LearningRateSchedule.Kind.LINEAR, 0, 42, 0, 1.0,
                0, 0, 1);
    }

    /** {@code eval:} of a run config; {@code limit} 0 scores the whole split. */
    public record Eval(Split split, @Range(min = 0) int limit, @Range(min = 1) int beams) {
        static final Eval DEFAULTS = new Eval(Split.TEST, 0, 1);
    }

    private static final List<String> SECTIONS = List.of("adapter", "training", "eval");

    /**
     * Reads a run config; every problem of the file is reported at once, as the adapter-config binder reports them
     * ({@code training.steps: expected an integer in [1, 2147483647], found string "two"}).
     *
     * @throws ConfigException naming the file and listing every problem
     */
    static RunConfig read(Path file, AdapterConfigReader reader) {
        List<ConfigProblem> problems = new ArrayList<>();
        RunConfig c = read(file, reader, problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(file.toString(), problems);
        }
        return c;
    }

    private static RunConfig read(Path file, AdapterConfigReader reader, List<ConfigProblem> problems) {
        JsonNode root;
        try {
            long size = Files.size(file);
            if (size > MAX_CONFIG_SIZE) {
                problems.add(new ConfigProblem("", "file is " + size + " bytes; a run config is at most "
                        + MAX_CONFIG_SIZE + " bytes"));
                return null;
            }
            root = ConfigFiles.read(file);
        } catch (NoSuchFileException e) {
            problems.add(new ConfigProblem("", "no such file"));
            return null;
        } catch (IOException e) {
            problems.add(new ConfigProblem("", "cannot be read: " + e.getMessage()));
            return null;
        } catch (ConfigFiles.SyntaxException e) {
            problems.add(new ConfigProblem("", e.getMessage()));
            return null;
        }
        String expected = "expected a run config: an object with task, adapter, training, eval and output";
        if (root.isMissingNode() || root.isNull()) {
            problems.add(new ConfigProblem("", "the file is empty; " + expected));
            return null;
        }
        if (!root.isObject()) {
            problems.add(new ConfigProblem("", expected + ", found " + ConfigBinder.describe(root)));
            return null;
        }
        Optional<Top> top = ConfigBinder.bind(Top.class, Top.DEFAULTS, root, "", SECTIONS, problems);
        Optional<Training> training = section(root, "training", Training.class, Training.DEFAULTS, problems);
        Optional<Eval> eval = section(root, "eval", Eval.class, Eval.DEFAULTS, problems);
        Path base = Path.of("").toAbsolutePath();
        List<AdapterConfig> adapters = adapters(root.get("adapter"), base, reader, problems);
        JsonNode lr = root.path("training").path("lr");
        if (lr.isNumber() && Double.isFinite(lr.asDouble()) && !(lr.asDouble() > 0)) {
            // the binder's ranges are inclusive; a learning rate must be strictly positive
            problems.add(new ConfigProblem("training.lr", "expected a learning rate > 0, found " + lr));
        }
        if (!root.has("task")) {
            problems.add(new ConfigProblem("task", "missing (a bundled task: sql, triples, sentiment; or a benchmark:"
                    + " spider, samsum, dart, glue/<task>, jsonl)"));
        }
        if (!root.has("output")) {
            problems.add(new ConfigProblem("output", "missing (the folder for the adapter, metrics.jsonl and"
                    + " training-curve.png)"));
        }
        // blank strings are checked on the tree, so that they are reported beside the binder's type problems
        for (String key : List.of("task", "data", "model", "output")) {
            JsonNode n = root.get(key);
            if (n != null && n.isTextual() && n.asText().isBlank()) {
                problems.add(new ConfigProblem(key, key.equals("task")
                        ? "expected a bundled task (sql, triples, sentiment), found string \"" + n.asText() + "\""
                        : "expected a non-blank path, found string \"" + n.asText() + "\""));
            }
        }
        Path data = null;
        Path model = null;
        Path output = null;
        if (top.isPresent() && problems.isEmpty()) {
            Top t = top.get();
            data = path(base, "data", t.data(), problems);
            model = path(base, "model", t.model(), problems);
            output = path(base, "output", t.output(), problems);
        }
        if (!problems.isEmpty()) {
            return null;
        }
        Top t = top.orElseThrow();
        BenchmarkTask.Options benchmark;
        try {
            benchmark = new BenchmarkTask.Options(SpiderData.Target.forName(t.spiderTarget()));
        } catch (IllegalArgumentException ex) {
            problems.add(new ConfigProblem("spider_target", ex.getMessage()));
            return null;
        }
        Training tr = training.orElseThrow();
        Eval e = eval.orElseThrow();
        return new RunConfig(t.task(), data, t.taskSeed(), model, adapters, tr.steps(), tr.lr(), tr.batch(),
                tr.schedule(), tr.warmup(), tr.seed(), tr.evalEvery(), tr.maxGradNorm(), tr.weightDecay(),
                tr.checkpointEvery(), tr.keepCheckpoints(), e.split().name().toLowerCase(Locale.ROOT), e.limit(),
                e.beams(), output, benchmark);
    }

    private static <C extends Record> Optional<C> section(JsonNode root, String key, Class<C> type, C defaults,
                                                          List<ConfigProblem> problems) {
        JsonNode n = root.get(key);
        if (n == null) {
            return Optional.of(defaults);
        }
        if (!n.isObject()) {
            problems.add(new ConfigProblem(key, "expected an object of " + key + " settings ("
                    + String.join(", ", ConfigBinder.describe(type, defaults).stream()
                    .map(ConfigBinder.FieldInfo::name).toList()) + "), found " + ConfigBinder.describe(n)));
            return Optional.empty();
        }
        return ConfigBinder.bind(type, defaults, n, key, List.of(), problems);
    }

    private static List<AdapterConfig> adapters(JsonNode a, Path base, AdapterConfigReader reader,
                                                List<ConfigProblem> problems) {
        if (a == null) {
            problems.add(new ConfigProblem("adapter", "missing (an adapter config object, or the path of an adapter"
                    + " config file)"));
            return List.of();
        }
        if (!a.isTextual()) {
            return reader.fromTree(a, "adapter", problems);
        }
        Path f = path(base, "adapter", a.asText(), problems);
        if (f == null) {
            return List.of();
        }
        try {
            return reader.read(f);
        } catch (ConfigException e) {
            e.problems().forEach(p -> problems.add(new ConfigProblem("adapter", "the adapter config " + f + " is"
                    + " refused: " + p)));
            return List.of();
        }
    }

    /** A path field: non-blank and a valid path, resolved against {@code base}; null when absent. */
    private static Path path(Path base, String key, String value, List<ConfigProblem> problems) {
        if (value == null) {
            return null;
        }
        if (value.isBlank()) {
            problems.add(new ConfigProblem(key, "expected a non-blank path, found string \"" + value + "\""));
            return null;
        }
        try {
            return base.resolve(value);
        } catch (InvalidPathException e) {
            problems.add(new ConfigProblem(key, "expected a path, found string \"" + value + "\": "
                    + e.getReason()));
            return null;
        }
    }

    TrainingOptions options() {
        return TrainingOptions.builder(steps, lr).schedule(schedule, warmup).seed(seed).evalEvery(evalEvery)
                .maxGradNorm(maxGradNorm).weightDecay(weightDecay).checkpointEvery(checkpointEvery).keepCheckpoints(keepCheckpoints).build();
    }
}
