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
import org.ssmpeft.examples.tasks.BundledTask;
import org.ssmpeft.examples.tasks.BundledTasks;
import org.ssmpeft.examples.tasks.TaskFiles;
import org.ssmpeft.examples.tasks.TaskScorer;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.data.Batches;
import org.ssmpeft.runtime.data.Dataset;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.tokenize.Tokenizers;
import org.ssmpeft.runtime.train.BatchSource;

/**
 * What train, eval and compare share: a base model (the bundled one unless a folder is given) on the chosen backend,
 * its tokenizer, and a bundled task's data (generated from a seed into a temporary folder unless a folder written by
 * {@code peft tasks --write} is given).
 */
final class TaskRun {

    final BundledTask task;
    final Path dataDir;
    final Path modelDir;
    final ModelSpec weights;
    final SsmModel model;
    final Tokenizer tokenizer;
    final boolean bundled;

    private TaskRun(BundledTask task, Path dataDir, Path modelDir, ModelSpec weights, SsmModel model,
                    Tokenizer tokenizer, boolean bundled) {
        this.bundled = bundled;
        this.task = task;
        this.dataDir = dataDir;
        this.modelDir = modelDir;
        this.weights = weights;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Loads the model and prepares the task's data. */
    static TaskRun open(String taskName, Path data, long taskSeed, Path model, BackendOption backend,
                        PrintWriter out) throws IOException {
        BundledTask task = BundledTasks.forName(taskName);
        Path dataDir = data;
        if (dataDir == null) {
            dataDir = temporary("peft-task-" + task.name());
            TaskFiles.write(task, taskSeed, dataDir);
        } else {
            requireTaskFiles(task, dataDir);
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
        Dataset d = TaskFiles.read(task, dataDir, split);
        return d.examples();
    }

    List<Example> evalExamples(Split split, int limit) throws IOException {
        List<Example> all = examples(split);
        return limit > 0 && limit < all.size() ? all.subList(0, limit) : all;
    }

    /** Training batches shuffled with {@code seed} (the trainer must run with the same seed). */
    BatchSource trainBatches(int batchSize, long seed) throws IOException {
        Encoder enc = new Encoder(tokenizer, task.format());
        var encoded = enc.encodeAll(examples(Split.TRAIN)).examples();
        return Batches.training(encoded, batchSize, seed, tokenizer.requirePad()).asBatchSource();
    }

    TaskScorer scorer(List<Example> examples, int beams) {
        GenerationOptions g = TaskScorer.defaultGeneration(tokenizer);
        if (beams > 1) {
            g = g.withBeams(beams);
        }
        return new TaskScorer(task, dataDir, tokenizer, examples, g);
    }

    String describeModel() {
        return (bundled ? "bundled model" : modelDir.toString()) + ", "
                + (weights instanceof MambaWeights m1 ? PretrainCommand.describe(m1.config()) : weights.describe())
                + String.format(Locale.ROOT, ", %,d parameters",
                baseParameters());
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
