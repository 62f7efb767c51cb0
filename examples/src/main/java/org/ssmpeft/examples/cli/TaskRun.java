package org.ssmpeft.examples.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.examples.bundled.BundledModel;
import org.ssmpeft.examples.tasks.BenchmarkTask;
import org.ssmpeft.examples.tasks.BundledSource;
import org.ssmpeft.examples.tasks.BundledTask;
import org.ssmpeft.examples.tasks.BundledTasks;
import org.ssmpeft.examples.tasks.TaskFiles;
import org.ssmpeft.examples.tasks.TaskScorer;
import org.ssmpeft.examples.tasks.TaskSource;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.data.Batches;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.data.Truncation;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.tokenize.Tokenizers;
import org.ssmpeft.runtime.train.BatchSource;

/**
 * What train, eval and compare share: a base model (the bundled one unless a folder is given) on the chosen backend,
 * its tokenizer ({@code tokenizer.json} of the model folder), and a task's data: a bundled task (generated from a seed
 * into a temporary folder unless a folder written by {@code peft tasks --write} is given) or a published benchmark
 * read from the given folder ({@link BenchmarkTask}). A data folder is only read.
 */
final class TaskRun {

    /** The help of {@code --task}, on eval and compare (a run config's {@code task:} takes the same names). */
    static final String TASK_HELP = "A bundled task: sql, triples, sentiment (generated from --task-seed unless"
            + " --data is given); or a published benchmark read (never written) from --data DIR: spider, samsum, dart,"
            + " glue/<cola|sst2|mrpc|qqp|mnli|qnli|rte|wnli>, jsonl. Spider and GLUE: test is the published dev set,"
            + " validation a seeded 80/20 split of the training file (seed 123); SAMSum and DART: their published"
            + " validation and test files.";

    /** The help of {@code --data}. */
    static final String DATA_HELP = "The task's files, only read: a folder written by peft tasks --write for a"
            + " bundled task (default: generated), or the published files of a benchmark (spider: train_spider.json,"
            + " dev.json, tables.json, database/; samsum: train.json, val.json, test.json; dart:"
            + " dart-v1.1.1-full-{train,dev,test}.json; glue/TASK: the GLUE root with <Task>/train.tsv, dev.tsv;"
            + " jsonl: train.jsonl, validation.jsonl, test.jsonl).";

    /** The help of {@code --spider-target}. */
    static final String SPIDER_TARGET_HELP = "Spider's training target: as_written (the published gold SQL, default)"
            + " or lower_cased (the paper code's label). Scoring is always against the published gold SQL, on each"
            + " example's own database.";

    final TaskSource task;
    final Path dataDir;
    final Path modelDir;
    final ModelSpec weights;
    final SsmModel model;
    final Tokenizer tokenizer;
    final boolean bundled;

    private TaskRun(TaskSource task, Path dataDir, Path modelDir, ModelSpec weights, SsmModel model,
                    Tokenizer tokenizer, boolean bundled) {
        this.bundled = bundled;
        this.task = task;
        this.dataDir = dataDir;
        this.modelDir = modelDir;
        this.weights = weights;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Loads the model and prepares the task's data (benchmarks with their default options). */
    static TaskRun open(String taskName, Path data, long taskSeed, Path model, BackendOption backend,
                        PrintWriter out) throws IOException {
        return open(taskName, data, taskSeed, BenchmarkTask.Options.DEFAULTS, model, backend, out);
    }

    /** Loads the model and prepares the task's data; the data folder is checked before the model is loaded. */
    static TaskRun open(String taskName, Path data, long taskSeed, BenchmarkTask.Options options, Path model,
                        BackendOption backend, PrintWriter out) throws IOException {
        Path dataDir = data;
        TaskSource task;
        if (BundledTasks.names().contains(taskName.toLowerCase(Locale.ROOT))) {
            BundledTask bundled = BundledTasks.forName(taskName);
            if (dataDir == null) {
                dataDir = temporary("peft-task-" + bundled.name());
                TaskFiles.write(bundled, taskSeed, dataDir);
            } else {
                requireTaskFiles(bundled, dataDir);
            }
            task = new BundledSource(bundled, dataDir);
        } else {
            task = BenchmarkTask.open(taskName, dataDir, options);
        }
        Path modelDir = BundledModel.orBundled(model);
        ModelSpec w = Checkpoints.load(modelDir); // Mamba-1 or Mamba-2, by its config.json
        Tokenizer tok = Tokenizers.forModel(modelDir, w.shape().vocab());
        SsmModel m = backend.create(w, out);
        return new TaskRun(task, dataDir, modelDir, w, m, tok, model == null);
    }

    /**
     * A data folder given to read must hold every file of the task's layout: it is read, never written into
     * (generating the task there would replace the user's files with synthetic ones).
     */
    static void requireTaskFiles(BundledTask task, Path dataDir) throws IOException {
        if (!Files.isDirectory(dataDir)) {
            throw new java.nio.file.NoSuchFileException(dataDir.toString(), null, "--data: not a folder; expected"
                    + " a folder written by peft tasks --write --task " + task.name());
        }
        List<String> missing = new ArrayList<>();
        for (String f : TaskFiles.expectedFiles(task)) {
            if (!Files.isRegularFile(dataDir.resolve(f))) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            throw new java.nio.file.NoSuchFileException(dataDir.resolve(missing.getFirst()).toString(), null,
                    "the data folder holds no " + String.join(", no ", missing) + "; expected a folder written by"
                            + " peft tasks --write --task " + task.name() + " (" + String.join(", ",
                            TaskFiles.expectedFiles(task)) + "), or no data folder, to generate the task from its"
                            + " seed; nothing was written into it");
        }
    }

    /** The benchmark options of the command line; a bad value is a usage error naming the option. */
    static BenchmarkTask.Options options(picocli.CommandLine.Model.CommandSpec spec, String spiderTarget) {
        try {
            return new BenchmarkTask.Options(org.ssmpeft.runtime.data.SpiderData.Target.forName(spiderTarget));
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--spider-target: " + e.getMessage());
        }
    }

    /** A temporary folder deleted with its contents when the JVM exits. */
    static Path temporary(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(prefix);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException | RuntimeException ignored) {
                // best effort
            }
        }));
        return dir;
    }

    List<Example> examples(Split split) throws IOException {
        return task.examples(split);
    }

    List<Example> evalExamples(Split split, int limit) throws IOException {
        List<Example> all = examples(split);
        return limit > 0 && limit < all.size() ? all.subList(0, limit) : all;
    }

    /** Training batches shuffled with {@code seed} (the trainer must run with the same seed). */
    BatchSource trainBatches(int batchSize, long seed) throws IOException {
        // Spider drops training examples longer than the paper code's max_seqlen
        Encoder enc = task.maxLength() > 0
                ? new Encoder(tokenizer, task.format(), task.maxLength(), Truncation.DROP)
                : new Encoder(tokenizer, task.format());
        var encoded = enc.encodeAll(examples(Split.TRAIN)).examples();
        return Batches.training(encoded, batchSize, seed, tokenizer.requirePad()).asBatchSource();
    }

    TaskScorer scorer(List<Example> examples, int beams) {
        GenerationOptions g = TaskScorer.defaultGeneration(tokenizer);
        if (beams > 1) {
            g = g.withBeams(beams);
        }
        return new TaskScorer(task, tokenizer, examples, g);
    }

    /** The base model, its size, and the backend and precision it runs on: the "base:" line of every report. */
    String describeModel() {
        return (bundled ? "bundled model" : modelDir.toString()) + ", "
                + (weights instanceof MambaWeights m1 ? PretrainCommand.describe(m1.config()) : weights.describe())
                + String.format(Locale.ROOT, ", %,d parameters; backend %s, precision %s", baseParameters(),
                model.backend(), BackendOption.describe(model.spec().precision()));
    }

    long baseParameters() {
        return weights.parameters().values().stream().mapToLong(t -> t.data().length).sum();
    }

    /** Scores in a fixed order, main score first, {@code out_of_class} last. */
    static String format(Map<String, Double> scores) {
        List<String> parts = new ArrayList<>();
        scores.forEach((k, v) -> parts.add(k + " " + fmt(k, v)));
        return String.join(", ", parts);
    }

    static String fmt(String name, double v) {
        return name.equals("bleu") ? String.format(Locale.ROOT, "%.2f", v)
                : name.equals("out_of_class") ? String.format(Locale.ROOT, "%.0f", v)
                : String.format(Locale.ROOT, "%.3f", v);
    }

    static Map<String, Double> evaluate(TaskScorer scorer, SsmModel model, AdapterSet adapters) {
        return new LinkedHashMap<>(scorer.evaluate(model, adapters, 0));
    }

    static void showPredictions(PrintWriter out, TaskScorer scorer, int n) {
        var preds = scorer.lastPredictions();
        for (int i = 0; i < Math.min(n, preds.size()); i++) {
            var p = preds.get(i);
            out.printf("  input:     %s%n  predicted: %s%n  gold:      %s%n", p.example().input().strip()
                    .replace("\n", "\\n"), p.text(), String.join(" | ", p.example().references()));
        }
    }
}
