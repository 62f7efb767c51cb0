package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.examples.tasks.TaskScorer;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.train.LearningRateSchedule;
import org.ssmpeft.runtime.train.TrainingOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code peft compare --task T}: trains every installed method (plugins included) on one task with its default
 * config and learning rate ({@link MethodDefaults}), the same steps, batch size, data order and seed, scores each on
 * the held-out split and prints one table, with the base model without adapter as the first row. A method that fails
 * gets a row saying why; the others still run.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Train every installed PEFT method on one task (bundled, or a published benchmark) with the same"
        + " budget and data order; print method, trainable parameters, scores, training time and tokens/s.")
final class CompareCommand implements Callable<Integer> {

    private final AdapterFactory factory;

    @Spec
    CommandSpec spec;

    @Option(names = "--task", required = true, description = TaskRun.TASK_HELP)
    String task;

    @Option(names = "--spider-target", paramLabel = "TARGET", defaultValue = "as_written",
            description = TaskRun.SPIDER_TARGET_HELP)
    String spiderTarget;

    @Option(names = "--methods", split = ",", description = "Only these methods (default: every installed one).")
    List<String> only;

    @Option(names = "--steps", defaultValue = "100", description = "Optimiser steps per method (${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "8", description = "Rows per step (${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Data order and adapter init seed.")
    long seed;

    @Option(names = "--lr", split = ",", paramLabel = "METHOD=LR",
            description = "Override a method's learning rate, e.g. --lr state-offset=3e-3,lora=1e-3.")
    Map<String, Double> lrs = new LinkedHashMap<>();

    @Option(names = "--limit", defaultValue = "100", description = "Held-out examples scored (${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--model", paramLabel = "DIR", description = "Base model folder (default: the bundled model).")
    Path model;

    @Option(names = "--data", paramLabel = "DIR", description = TaskRun.DATA_HELP)
    Path data;

    @Option(names = "--task-seed", defaultValue = "1", description = "Task generation seed (${DEFAULT-VALUE}).")
    long taskSeed;

    @Option(names = "--out", paramLabel = "DIR", description = "Keep each method's run (metrics, curve) here, and"
            + " compare.json (settings, rows, table), rewritten atomically after each method.")
    Path out;

    @Mixin
    BackendOption backend = new BackendOption();

    @Inject
    CompareCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    private record Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
                       double tokensPerSecond, String failure, double lr) {
        CompareResults.Row result() {
            return new CompareResults.Row(method, params, percent, scores, seconds, tokensPerSecond, failure, lr);
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        OutputChecks.atLeast(spec, "--steps", steps, 1);
        OutputChecks.atLeast(spec, "--batch", batch, 1);
        OutputChecks.atLeast(spec, "--limit", limit, 0);
        lrs.forEach((m, lr) -> OutputChecks.positive(spec, "--lr " + m, lr));
        if (out != null) {
            Map<String, Path> reads = new LinkedHashMap<>();
            reads.put("the model folder", model);
            reads.put("the data folder", data);
            OutputChecks.outputFolder(spec, "--out", out, reads);
        }
        long wall = System.nanoTime();
        TaskRun run = TaskRun.open(task, data, taskSeed, TaskRun.options(spec, spiderTarget), model, backend, w);
        var testItems = run.evalExamples(Split.TEST, limit);
        TaskScorer scorer = run.scorer(testItems, 1);
        List<String> methods = only != null ? only : factory.methods().names();
        w.printf("compare on task %s (%s)%nbase: %s%n%d steps x batch %d, seed %d, linear decay, held-out test"
                + " examples %d%n", run.task.name(), run.task.description(), run.describeModel(), steps, batch, seed,
                testItems.size());
        w.flush();
        List<Row> rows = new ArrayList<>();
        long base = run.baseParameters();
        long t0 = System.nanoTime();
        Map<String, Double> baseline = TaskRun.evaluate(scorer, run.model, run.model.noAdapters());
        rows.add(new Row("(base model)", 0, 0, baseline, 0, 0, null, 0));
        w.printf("  %-14s %s (%.1f s)%n", "(base model)", TaskRun.format(baseline), (System.nanoTime() - t0) / 1e9);
        w.flush();
        Path root = out != null ? out : TaskRun.temporary("peft-compare");
        for (String method : methods) {
            double lr = lrs.getOrDefault(method, MethodDefaults.lr(method));
            try {
                List<AdapterConfig> configs = factory.reader().parse(MethodDefaults.config(method), ConfigFormat.YAML);
                AdapterSet adapters = factory.create(configs, run.model.shape(), seed);
                long params = adapters.actingParameterCount();
                TrainingOptions options = TrainingOptions.builder(steps, lr)
                        .schedule(LearningRateSchedule.Kind.LINEAR, 0).seed(seed).checkpointEvery(0)
                        .keepCheckpoints(1).build();
                FineTune.Outcome o = FineTune.run(run, adapters, options, batch, root.resolve(method), null,
                        List.of());
                Map<String, Double> scores = TaskRun.evaluate(scorer, run.model, adapters);
                rows.add(new Row(method, params, 100.0 * params / base, scores, o.seconds(), o.tokensPerSecond(),
                        null, lr));
                w.printf("  %-14s %s (lr %.0e, train %.1f s, final loss %.3f)%n", method, TaskRun.format(scores), lr,
                        o.seconds(), o.result().lastLoss());
            } catch (RuntimeException e) {
                String why = e.getMessage() == null ? e.toString() : e.getMessage();
                rows.add(new Row(method, 0, 0, Map.of(), 0, 0, why, lr));
                w.printf("  %-14s failed: %s%n", method, why);
            }
            w.flush();
            if (out != null) {
                saveResults(run, testItems.size(), rows);
            }
        }
        w.println();
        table(rows).forEach(w::println);
        w.printf("%nwall time %.0f s%n", (System.nanoTime() - wall) / 1e9);
        return 0;
    }

    private void saveResults(TaskRun run, int examples, List<Row> rows) throws java.io.IOException {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("task", run.task.name());
        settings.put("base", run.describeModel());
        settings.put("steps", steps);
        settings.put("batch", batch);
        settings.put("seed", seed);
        settings.put("test_examples", examples);
        CompareResults.write(out.resolve(CompareResults.FILE), settings, rows.stream().map(Row::result).toList(),
                table(rows));
    }

    private List<String> table(List<Row> rows) {
        List<String> lines = new ArrayList<>();
        List<String> scoreNames = new ArrayList<>(rows.getFirst().scores().keySet());
        List<String> header = new ArrayList<>(List.of("method", "lr", "trainable params", "% of base"));
        header.addAll(scoreNames);
        header.addAll(List.of("train s", "tokens/s"));
        List<List<String>> cells = new ArrayList<>();
        for (Row r : rows) {
            List<String> c = new ArrayList<>();
            c.add(r.method());
            if (r.failure() != null) {
                c.add(String.format(Locale.ROOT, "%.0e", r.lr()));
                c.add("failed: " + r.failure());
                cells.add(c);
                continue;
            }
            boolean baseRow = r.method().startsWith("(");
            c.add(baseRow ? "-" : String.format(Locale.ROOT, "%.0e", r.lr()));
            c.add(String.format(Locale.ROOT, "%,d", r.params()));
            c.add(String.format(Locale.ROOT, "%.2f%%", r.percent()));
            for (String s : scoreNames) {
                Double v = r.scores().get(s);
                c.add(v == null ? "-" : TaskRun.fmt(s, v));
            }
            c.add(baseRow ? "-" : String.format(Locale.ROOT, "%.1f", r.seconds()));
            c.add(baseRow ? "-" : String.format(Locale.ROOT, "%,.0f", r.tokensPerSecond()));
            cells.add(c);
        }
        lines.add("| " + String.join(" | ", header) + " |");
        lines.add("|" + " --- |".repeat(header.size()));
        for (List<String> c : cells) {
            lines.add("| " + String.join(" | ", c) + " |");
        }
        return lines;
    }
}
