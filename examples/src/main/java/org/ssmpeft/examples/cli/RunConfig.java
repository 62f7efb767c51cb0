package org.ssmpeft.examples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.runtime.train.LearningRateSchedule;
import org.ssmpeft.runtime.train.TrainingOptions;

/**
 * A {@code peft train} run config (YAML or JSON). Relative paths are resolved against the working directory.
 *
 * <pre>
 * task: sql                 # a bundled task: sql, triples, sentiment
 * data: DIR                 # optional: the task's files (peft tasks --write); default: generated from task_seed
 * task_seed: 1              # optional (1)
 * model: DIR                # optional: config.json + model.safetensors; default: the bundled model
 * adapter:                  # inline adapter config (the format of peft config validate) or a path to one
 *   method: state-offset
 *   variant: h
 * training: {steps: 100, lr: 1e-2, batch: 8, schedule: linear, warmup: 0, seed: 42, eval_every: 0,
 *            max_grad_norm: 1.0, weight_decay: 0}
 * eval: {split: test, limit: 100, beams: 1}
 * output: runs/sql-offset   # adapter/, metrics.jsonl, training-curve.png, scores.json
 * </pre>
 */
record RunConfig(String task, Path data, long taskSeed, Path model, List<AdapterConfig> adapters, int steps,
                 double lr, int batch, LearningRateSchedule.Kind schedule, int warmup, long seed, int evalEvery,
                 double maxGradNorm, double weightDecay, String evalSplit, int evalLimit, int beams, Path output) {

    private static final Set<String> TOP = Set.of("task", "data", "task_seed", "model", "adapter", "training", "eval",
            "output");
    private static final Set<String> TRAINING = Set.of("steps", "lr", "batch", "schedule", "warmup", "seed",
            "eval_every", "max_grad_norm", "weight_decay");
    private static final Set<String> EVAL = Set.of("split", "limit", "beams");

    static RunConfig read(Path file, AdapterConfigReader reader) throws IOException {
        ObjectMapper m = ConfigFormat.of(file) == ConfigFormat.YAML ? new ObjectMapper(new YAMLFactory())
                : new ObjectMapper();
        JsonNode root = m.readTree(Files.readString(file));
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": expected an object with task, adapter, training, output");
        }
        List<String> problems = new ArrayList<>();
        unknown(root, TOP, "", problems);
        Path base = Path.of("").toAbsolutePath();
        String task = root.path("task").asText("");
        if (task.isEmpty()) {
            problems.add("task: missing (a bundled task: sql, triples, sentiment)");
        }
        JsonNode a = root.path("adapter");
        List<AdapterConfig> adapters = List.of();
        if (a.isMissingNode()) {
            problems.add("adapter: missing (an adapter config object, or the path of an adapter config file)");
        } else if (a.isTextual()) {
            adapters = reader.read(base.resolve(a.asText()));
        } else {
            adapters = reader.parse(new ObjectMapper().writeValueAsString(a), ConfigFormat.JSON);
        }
        JsonNode t = root.path("training");
        unknown(t, TRAINING, "training.", problems);
        JsonNode e = root.path("eval");
        unknown(e, EVAL, "eval.", problems);
        if (!root.hasNonNull("output")) {
            problems.add("output: missing (the folder for the adapter, metrics.jsonl and training-curve.png)");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(file + ": " + String.join("; ", problems));
        }
        return new RunConfig(task, path(base, root.path("data")), root.path("task_seed").asLong(1),
                path(base, root.path("model")), adapters, t.path("steps").asInt(100), t.path("lr").asDouble(1e-2),
                t.path("batch").asInt(8), LearningRateSchedule.Kind.parse(t.path("schedule").asText("linear")),
                t.path("warmup").asInt(0), t.path("seed").asLong(42), t.path("eval_every").asInt(0),
                t.path("max_grad_norm").asDouble(1.0), t.path("weight_decay").asDouble(0),
                e.path("split").asText("test"), e.path("limit").asInt(0), e.path("beams").asInt(1),
                base.resolve(root.path("output").asText()));
    }

    TrainingOptions options() {
        return TrainingOptions.builder(steps, lr).schedule(schedule, warmup).seed(seed).evalEvery(evalEvery)
                .maxGradNorm(maxGradNorm).weightDecay(weightDecay).checkpointEvery(0).keepCheckpoints(1).build();
    }

    private static Path path(Path base, JsonNode n) {
        return n.isMissingNode() || n.isNull() ? null : base.resolve(n.asText());
    }

    private static void unknown(JsonNode n, Set<String> known, String prefix, List<String> problems) {
        if (!n.isObject()) {
            return;
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                problems.add(prefix + k + ": unknown field; expected one of " + new java.util.TreeSet<>(known));
            }
        }
    }
}
