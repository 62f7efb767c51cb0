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
import org.ssmpeft.runtime.data.Example;
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

    @Option(names = "--methods", split = ",", description = "Only these methods (default: every installed one, and"
            + " lora-dora, LoRA with use_dora); also lora-plus (LoRA+, loraplus_lr_ratio 16) and lora-pissa"
            + " (init_lora_weights pissa), trained only when named.")
    List<String> only;

    @Option(names = "--steps", defaultValue = "100", description = "Optimiser steps per method (${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "8", description = "Rows per step (${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Data order and adapter init seed, when --seeds is"
            + " not given (${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", split = ",", paramLabel = "SEED",
            description = "Run every method with each of these seeds (data order and adapter init), e.g. --seeds"
                    + " 1,2,3; scores are the mean over the seeds, with their sample standard deviation (mean ± sd)."
                    + " The learning rate is chosen with the first seed.")
    List<Long> seeds;

    @Option(names = "--lr-grid", split = ",", paramLabel = "FACTOR",
            description = "Per method, train at the centre learning rate times each factor (e.g. --lr-grid"
                    + " 0.5,1,2), each with the same data order and seed, score each on the validation split (the"
                    + " task's main score), and score only the best on test. Centre: --lr METHOD=LR where given;"
                    + " on a benchmark task the paper's rate (Mamba-130M, DART: state-offset 4e-4, initial-state"
                    + " 2e-3, additional-scan 4e-3, lora 4e-3, full-ft 4e-4); on a bundled task the method's"
                    + " default for the bundled model.")
    List<Double> lrGrid;

    @Option(names = "--lr", split = ",", paramLabel = "METHOD=LR",
            description = "Override a method's learning rate, e.g. --lr state-offset=3e-3,lora=1e-3.")
    Map<String, Double> lrs = new LinkedHashMap<>();

    @Option(names = "--limit", defaultValue = "100", description = "Held-out examples scored, on validation (with"
            + " --lr-grid) and on test (${DEFAULT-VALUE}; 0: all); with --steps, what makes a quick run.")
    int limit;

    @Option(names = "--beams", defaultValue = "1", description = "Beam search width for generation on test (1:"
            + " greedy, the default; the paper: 5); validation for --lr-grid decodes greedily.")
    int beams;

    @Option(names = "--model", paramLabel = "DIR", description = "Base model folder (default: the bundled model).")
    Path model;

    @Option(names = "--data", paramLabel = "DIR", description = TaskRun.DATA_HELP)
    Path data;

    @Option(names = "--task-seed", defaultValue = "1", description = "Task generation seed (${DEFAULT-VALUE}).")
    long taskSeed;

    @Option(names = "--out", paramLabel = "DIR", description = "Keep each method's run (metrics, curve) here, and"
            + " compare.md (the table), compare.csv and compare.json (settings, rows, table), rewritten atomically"
            + " after each method.")
    Path out;

    @Option(names = "--resume", description = "With --out: keep the rows of the compare.json there when it was"
            + " written with the same settings, and train only the methods it lacks or that failed (a killed"
            + " comparison continues where it stopped).")
    boolean resume;

    @Mixin
    BackendOption backend = new BackendOption();

    @Inject
    CompareCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    private record Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
                       double tokensPerSecond, String failure, double lr, Map<String, Double> sd,
                       Map<Double, Double> validation, int seedCount, double peakHeapMiB) {
        Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
            double tokensPerSecond, String failure, double lr) {
            this(method, params, percent, scores, seconds, tokensPerSecond, failure, lr, Map.of(), Map.of(), 1, 0);
        }

        CompareResults.Row result() {
            return new CompareResults.Row(method, params, percent, scores, seconds, tokensPerSecond, failure, lr, sd,
                    validation, seedCount, peakHeapMiB);
        }
    }

    /** One trained adapter set of a method: its learning rate, seed, run and test scores (once scored). */
    private record Trained(double lr, long seed, AdapterSet adapters, FineTune.Outcome outcome, double peakHeapMiB) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        OutputChecks.atLeast(spec, "--steps", steps, 1);
        OutputChecks.atLeast(spec, "--batch", batch, 1);
        OutputChecks.atLeast(spec, "--limit", limit, 0);
        OutputChecks.atLeast(spec, "--beams", beams, 1);
        lrs.forEach((m, lr) -> OutputChecks.positive(spec, "--lr " + m, lr));
        if (lrGrid != null) {
            lrGrid.forEach(f -> OutputChecks.positive(spec, "--lr-grid", f));
        }
        List<Long> seedList = seeds == null || seeds.isEmpty() ? List.of(seed) : List.copyOf(seeds);
        if (resume && out == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--resume needs --out DIR (the"
                    + " folder of the comparison to continue)");
        }
        if (out != null) {
            Map<String, Path> reads = new LinkedHashMap<>();
            reads.put("the model folder", model);
            reads.put("the data folder", data);
            OutputChecks.outputFolder(spec, "--out", out, reads);
        }
        long wall = System.nanoTime();
        TaskRun run = TaskRun.open(task, data, taskSeed, TaskRun.options(spec, spiderTarget), model, backend, w);
        var testItems = run.evalExamples(Split.TEST, limit);
        TaskScorer scorer = run.scorer(testItems, beams);
        List<String> methods = only != null ? only : MethodDefaults.defaultRows(factory.methods().names());
        boolean grid = lrGrid != null && !lrGrid.isEmpty();
        var validationItems = grid ? run.evalExamples(Split.VALIDATION, limit) : List.<Example>of();
        TaskScorer validation = grid ? run.scorer(validationItems, 1) : null;
        boolean bundledTask = run.task instanceof org.ssmpeft.examples.tasks.BundledSource;
        w.printf("compare on task %s (%s)%nbase: %s%n%d steps x batch %d, seed%s %s, linear decay, held-out test"
                + " examples %d%n", run.task.name(), run.task.description(), run.describeModel(), steps, batch,
                seedList.size() > 1 ? "s" : "", seedList.stream().map(String::valueOf).collect(
                        java.util.stream.Collectors.joining(",")), testItems.size());
        if (grid) {
            w.printf("learning rates: centre x %s per method (centre: %s), chosen on %d validation examples by %s%n",
                    lrGrid, bundledTask ? "the bundled defaults" : "the paper's rates", validationItems.size(),
                    run.task.mainScore());
        }
        List<String> onRequest = MethodDefaults.onRequest(factory.methods().names()).stream()
                .filter(v -> !methods.contains(v)).toList();
        if (!onRequest.isEmpty()) {
            w.printf("also available (--methods NAME): %s%n", String.join(", ", onRequest));
        }
        w.flush();
        List<Row> rows = new ArrayList<>();
        long base = run.baseParameters();
        Map<String, Row> done = resume ? finished(run, testItems.size(), seedList) : Map.of();
        if (done.containsKey(BASE_ROW)) {
            rows.add(done.get(BASE_ROW));
            w.printf("  %-14s %s (from %s)%n", BASE_ROW, TaskRun.format(done.get(BASE_ROW).scores()),
                    CompareResults.FILE);
        } else {
            long t0 = System.nanoTime();
            Map<String, Double> baseline = TaskRun.evaluate(scorer, run.model, run.model.noAdapters());
            rows.add(new Row(BASE_ROW, 0, 0, baseline, 0, 0, null, 0));
            w.printf("  %-14s %s (%.1f s)%n", BASE_ROW, TaskRun.format(baseline), (System.nanoTime() - t0) / 1e9);
        }
        w.flush();
        Path root = out != null ? out : TaskRun.temporary("peft-compare");
        for (String method : methods) {
            if (done.containsKey(method)) {
                rows.add(done.get(method));
                w.printf("  %-14s %s (lr %.0e, from %s)%n", method, TaskRun.format(done.get(method).scores()),
                        done.get(method).lr(), CompareResults.FILE);
                continue;
            }
            if (resume) {
                // what a killed run of this method left in its own folder under --out: it starts again
                deleteRecursively(root.resolve(method));
            }
            double centre = lrs.containsKey(method) ? lrs.get(method)
                    : bundledTask ? MethodDefaults.lr(method) : MethodDefaults.paperLr(method);
            List<Double> lrList = grid ? lrGrid.stream().map(f -> centre * f).toList() : List.of(centre);
            try {
                List<AdapterConfig> configs = factory.reader().parse(MethodDefaults.config(method), ConfigFormat.YAML);
                boolean single = lrList.size() == 1 && seedList.size() == 1;
                // the grid, with the first seed: the best on validation is kept
                Trained best = null;
                double bestScore = Double.NEGATIVE_INFINITY;
                Map<Double, Double> byLr = new LinkedHashMap<>();
                double gridPeak = 0;
                for (double lr : lrList) {
                    Path dir = single ? root.resolve(method) : root.resolve(method).resolve(runName(lr,
                            seedList.getFirst()));
                    Trained t = train(run, configs, lr, seedList.getFirst(), dir);
                    gridPeak = Math.max(gridPeak, t.peakHeapMiB());
                    if (grid) {
                        double v = TaskRun.evaluate(validation, run.model, t.adapters())
                                .getOrDefault(run.task.mainScore(), Double.NaN);
                        byLr.put(lr, v);
                        w.printf("  %-14s lr %.1e: validation %s %s (train %.1f s)%n", method, lr,
                                run.task.mainScore(), TaskRun.fmt(run.task.mainScore(), v), t.outcome().seconds());
                        w.flush();
                        if (best == null || v > bestScore) {
                            best = t;
                            bestScore = v;
                        }
                    } else {
                        best = t;
                    }
                }
                Trained chosen = best;
                List<Map<String, Double>> perSeed = new ArrayList<>();
                List<Double> seconds = new ArrayList<>();
                List<Double> speed = new ArrayList<>();
                double peakHeap = gridPeak;
                perSeed.add(TaskRun.evaluate(scorer, run.model, chosen.adapters()));
                seconds.add(chosen.outcome().seconds());
                speed.add(chosen.outcome().tokensPerSecond());
                for (long s : seedList.subList(1, seedList.size())) {
                    Trained t = train(run, configs, chosen.lr(), s, root.resolve(method).resolve(runName(chosen.lr(),
                            s)));
                    perSeed.add(TaskRun.evaluate(scorer, run.model, t.adapters()));
                    seconds.add(t.outcome().seconds());
                    speed.add(t.outcome().tokensPerSecond());
                    peakHeap = Math.max(peakHeap, t.peakHeapMiB());
                }
                long params = chosen.adapters().actingParameterCount();
                Map<String, Double> mean = new LinkedHashMap<>();
                Map<String, Double> sd = new LinkedHashMap<>();
                for (String k : perSeed.getFirst().keySet()) {
                    double[] v = perSeed.stream().mapToDouble(m -> m.getOrDefault(k, Double.NaN)).toArray();
                    mean.put(k, mean(v));
                    if (v.length > 1) {
                        sd.put(k, sampleSd(v));
                    }
                }
                Row row = new Row(method, params, 100.0 * params / base, mean, mean(seconds), mean(speed), null,
                        chosen.lr(), sd, byLr, seedList.size(), peakHeap);
                rows.add(row);
                w.printf("  %-14s %s (lr %.0e, %strain %.1f s, final loss %.3f)%n", method, TaskRun.format(mean),
                        chosen.lr(), seedList.size() > 1 ? "mean of " + seedList.size() + " seeds, " : "",
                        row.seconds(), chosen.outcome().result().lastLoss());
            } catch (RuntimeException e) {
                String why = e.getMessage() == null ? e.toString() : e.getMessage();
                rows.add(new Row(method, 0, 0, Map.of(), 0, 0, why, centre));
                w.printf("  %-14s failed: %s%n", method, why);
            }
            w.flush();
            if (out != null) {
                saveResults(run, testItems.size(), rows, seedList);
            }
        }
        w.println();
        table(rows).forEach(w::println);
        if (grid || seedList.size() > 1) {
            w.printf("%n%s%s%n", grid ? "lr chosen on validation (" + run.task.mainScore() + ") from centre x "
                    + lrGrid + "; " : "", seedList.size() > 1 ? "scores: mean ± sd over " + seedList.size()
                    + " seeds (" + seedList.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(
                    ",")) + ")" : "scores: one seed");
        }
        w.printf("%nwall time %.0f s%n", (System.nanoTime() - wall) / 1e9);
        return 0;
    }

    private Trained train(TaskRun run, List<AdapterConfig> configs, double lr, long seed, Path dir)
            throws java.io.IOException {
        AdapterSet adapters = factory.create(configs, run.model.shape(), seed);
        TrainingOptions options = TrainingOptions.builder(steps, lr)
                .schedule(LearningRateSchedule.Kind.LINEAR, 0).seed(seed).checkpointEvery(0)
                .keepCheckpoints(1).build();
        var console = System.console();
        var progress = new org.ssmpeft.runtime.train.ProgressLine(new java.io.PrintStream(
                new TrainCommand.WriterStream(spec.commandLine().getOut()), true),
                console != null && console.isTerminal(), Math.max(1, steps / 4));
        List<java.lang.management.MemoryPoolMXBean> heap = java.lang.management.ManagementFactory
                .getMemoryPoolMXBeans().stream().filter(p -> p.getType() == java.lang.management.MemoryType.HEAP)
                .toList();
        heap.forEach(java.lang.management.MemoryPoolMXBean::resetPeakUsage);
        FineTune.Outcome o = FineTune.run(run, adapters, options, batch, dir, null, List.of(progress));
        // the sum of the pools' peaks bounds the peak of their sum from above
        double peak = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum() / (double) (1 << 20);
        return new Trained(lr, seed, adapters, o, peak);
    }

    private static void deleteRecursively(Path dir) throws java.io.IOException {
        if (!java.nio.file.Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var files = java.nio.file.Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        }
    }

    private static String runName(double lr, long seed) {
        return String.format(Locale.ROOT, "lr-%.3e-seed-%d", lr, seed);
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double mean(List<Double> v) {
        return mean(v.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** {@code sqrt(Σ (x - mean)² / (n - 1))}. */
    private static double sampleSd(double[] v) {
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }

    private static final String BASE_ROW = "(base model)";

    /**
     * The finished rows of the compare.json in {@code --out}, by method (failed ones left out, so they run again);
     * refused when it was written with other settings.
     */
    private Map<String, Row> finished(TaskRun run, int examples, List<Long> seedList) throws java.io.IOException {
        Path file = out.resolve(CompareResults.FILE);
        if (!java.nio.file.Files.isRegularFile(file)) {
            return Map.of();
        }
        CompareResults.Saved saved = CompareResults.read(file);
        // through the bytes, as the file holds them (a long read back is an int node)
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var now = json.readTree(json.writeValueAsBytes(settings(run, examples, seedList)));
        var before = saved.settings().deepCopy();
        if (before instanceof com.fasterxml.jackson.databind.node.ObjectNode o && !o.has("precision")) {
            o.put("precision", "fp32"); // written before the precision option: every run was fp32
        }
        if (!now.equals(before)) {
            List<String> differ = new ArrayList<>();
            now.properties().forEach(e -> {
                if (!e.getValue().equals(before.get(e.getKey()))) {
                    differ.add(e.getKey());
                }
            });
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--resume: " + file + " was written"
                    + " with other settings (" + (differ.isEmpty() ? "its keys" : String.join(", ", differ))
                    + " differ); run without --resume to start again, or choose another --out");
        }
        Map<String, Row> rows = new LinkedHashMap<>();
        for (CompareResults.Row r : saved.rows()) {
            if (r.failure() == null) {
                rows.put(r.method(), new Row(r.method(), r.params(), r.percent(), r.scores(), r.seconds(),
                        r.tokensPerSecond(), null, r.lr(), r.sd(), r.validation(), r.seeds(), r.peakHeapMiB()));
            }
        }
        return rows;
    }

    private Map<String, Object> settings(TaskRun run, int examples, List<Long> seedList) {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("task", run.task.name());
        settings.put("base", run.describeModel());
        settings.put("steps", steps);
        settings.put("batch", batch);
        settings.put("seeds", seedList);
        settings.put("lr_grid", lrGrid == null ? List.of() : lrGrid);
        settings.put("lr_overrides", new java.util.TreeMap<>(lrs));
        settings.put("spider_target", spiderTarget);
        settings.put("main_score", run.task.mainScore());
        settings.put("backend", run.model.backend());
        settings.put("precision", run.model.spec().precision().id());
        settings.put("beams", beams);
        settings.put("test_examples", examples);
        return settings;
    }

    private void saveResults(TaskRun run, int examples, List<Row> rows, List<Long> seedList)
            throws java.io.IOException {
        Map<String, Object> settings = settings(run, examples, seedList);
        CompareResults.writeAll(out, settings, rows.stream().map(Row::result).toList(), table(rows));
        // the main score per method, with its sd over seeds as an error bar
        Map<String, Double> means = new LinkedHashMap<>();
        Map<String, Double> sds = new LinkedHashMap<>();
        String main = run.task.mainScore();
        for (Row r : rows) {
            if (r.failure() == null && r.scores().containsKey(main)) {
                means.put(r.method(), r.scores().get(main));
                if (r.sd().containsKey(main)) {
                    sds.put(r.method(), r.sd().get(main));
                }
            }
        }
        org.ssmpeft.runtime.report.ScoreChart.write(out.resolve(CompareResults.CHART), run.task.name() + ": "
                + main + (seedList.size() > 1 ? " (mean ± sd over " + seedList.size() + " seeds)" : ""), main, means,
                sds, 800, 480);
    }

    private List<String> table(List<Row> rows) {
        List<String> lines = new ArrayList<>();
        List<String> scoreNames = new ArrayList<>(rows.getFirst().scores().keySet());
        boolean chosen = lrGrid != null && !lrGrid.isEmpty();
        List<String> header = new ArrayList<>(List.of("method", chosen ? "lr chosen" : "lr", "trainable params",
                "% of base"));
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
                Double d = r.sd().get(s);
                c.add(v == null ? "-" : d == null ? TaskRun.fmt(s, v) : TaskRun.fmt(s, v) + " ± " + TaskRun.fmt(s, d));
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
