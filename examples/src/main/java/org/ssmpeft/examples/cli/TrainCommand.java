package org.ssmpeft.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.examples.tasks.TaskScorer;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.train.ProgressLine;
import org.ssmpeft.runtime.train.TrainingCheckpoint;
import org.ssmpeft.runtime.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft train CONFIG}: fine-tune, evaluate before and after, save the adapter. */
@Command(name = "train", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Fine-tune an adapter on a task as a run config says (see RunConfig):"
        + " scores the base model before, trains, scores after, saves the adapter (Hugging Face PEFT layout),"
        + " metrics.jsonl, training-curve.png and scores.json into the config's output folder. --task, --data and"
        + " --spider-target override the config's.")
final class TrainCommand implements Callable<Integer> {

    private final AdapterFactory factory;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "CONFIG", description = "The run config (.yaml, .yml or .json).")
    Path config;

    @Option(names = "--resume", description = "Continue the run in the config's output folder from its newest"
            + " checkpoint (training.checkpoint_every sets how often one is written); the run config must be the"
            + " one that wrote it.")
    boolean resume;

    @Option(names = "--task", description = "Override the run config's task: " + TaskRun.TASK_HELP)
    String task;

    @Option(names = "--data", paramLabel = "DIR", description = "Override the run config's data folder. "
            + TaskRun.DATA_HELP)
    Path data;

    @Option(names = "--spider-target", paramLabel = "TARGET", description = "Override the run config's"
            + " spider_target. " + TaskRun.SPIDER_TARGET_HELP)
    String spiderTarget;

    @Mixin
    BackendOption backend = new BackendOption();

    @Inject
    TrainCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        RunConfig c = RunConfig.read(config, factory.reader());
        String taskName = task != null ? task : c.task();
        Path dataDir = data != null ? data.toAbsolutePath() : c.data();
        var benchmark = spiderTarget != null ? TaskRun.options(spec, spiderTarget) : c.benchmark();
        // before any work: the adapters must be able to act together (the check config validate makes), the output
        // folder must be writable, outside what the run reads, and hold a run exactly when resuming one
        factory.checkComposition(c.adapters());
        Map<String, Path> reads = new LinkedHashMap<>();
        reads.put("the model folder", c.model());
        reads.put("the data folder", dataDir);
        OutputChecks.outputFolder(spec, "output (" + config + ")", c.output(), reads);
        // a checkpoint being rewritten when an earlier run was killed is put back first (its output folder, which
        // this run writes into anyway)
        TrainingCheckpoint.recover(c.output());
        Optional<Path> existing = TrainingCheckpoint.latest(c.output());
        if (!resume && existing.isPresent()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "output (" + config + ") " + c.output()
                    + " already holds a run (" + existing.get().getFileName() + "); continue it with --resume or"
                    + " choose another output folder");
        }
        if (resume && existing.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--resume: output (" + config + ") "
                    + c.output() + " holds no checkpoint to continue; expected a folder written by peft train with"
                    + " training.checkpoint_every (or run without --resume)");
        }
        TaskRun run = TaskRun.open(taskName, dataDir, c.taskSeed(), benchmark, c.model(), backend, out);
        AdapterSet adapters = factory.create(c.adapters(), run.model.shape(), c.seed());
        Split split = Split.valueOf(c.evalSplit().toUpperCase(Locale.ROOT));
        TaskScorer scorer = run.scorer(run.evalExamples(split, c.evalLimit()), c.beams());
        TaskScorer validation = c.evalEvery() > 0 ? run.scorer(run.evalExamples(Split.VALIDATION, 0), 1) : null;
        var progress = new ProgressLine(new java.io.PrintStream(new WriterStream(out), true), false, 10);
        FineTune.Prepared prepared = FineTune.prepare(run, adapters, c.options(), c.batch(), c.output(), validation,
                List.of(progress));
        if (resume) {
            // a checkpoint of another run, or one that does not read whole, is refused before the first evaluation
            out.printf("resuming from %s%n", prepared.checkResume());
        }
        out.printf("task %s (%s), data %s%nbase: %s%nadapters: %s%n", run.task.name(), run.task.description(),
                run.dataDir, run.describeModel(), adapters);
        Map<String, Double> before = TaskRun.evaluate(scorer, run.model, run.model.noAdapters());
        out.printf("before (base model, %s split, %d examples): %s%n", split.name().toLowerCase(Locale.ROOT),
                scorer.lastPredictions().size(), TaskRun.format(before));
        Files.createDirectories(c.output());
        FineTune.Outcome o = prepared.run(resume);
        Map<String, Double> after = TaskRun.evaluate(scorer, run.model, adapters);
        out.printf("after (%d steps, %.1f s, %,.0f tokens/s): %s%n", o.result().steps(), o.seconds(),
                o.tokensPerSecond(), TaskRun.format(after));
        TaskRun.showPredictions(out, scorer, 3);
        for (Adapter a : adapters.acting()) {
            Path dir = adapters.acting().size() == 1 ? c.output().resolve("adapter")
                    : c.output().resolve("adapter-" + a.name());
            AdapterFiles.save(a, dir);
            out.printf("saved %s (%,d parameters) to %s%n", a.name(), a.parameterCount(), dir);
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode scores = json.createObjectNode();
        scores.set("before", json.valueToTree(before));
        scores.set("after", json.valueToTree(after));
        scores.put("steps", o.result().steps());
        scores.put("train_seconds", o.seconds());
        scores.put("tokens_per_second", o.tokensPerSecond());
        scores.put("backend", run.model.backend());
        scores.put("precision", run.model.spec().precision().id());
        AtomicFiles.write(c.output().resolve("scores.json"), json.writerWithDefaultPrettyPrinter()
                .writeValueAsBytes(scores));
        out.printf("metrics: %s, curve: %s%n", c.output().resolve(Trainer.METRICS_FILE),
                c.output().resolve(Trainer.CURVE_FILE));
        return 0;
    }

    /** A PrintWriter as an OutputStream (progress lines into the command's output). */
    static final class WriterStream extends java.io.OutputStream {
        private final PrintWriter w;
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        WriterStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public void write(int b) {
            if (b == '\n') {
                w.println(buf.toString(java.nio.charset.StandardCharsets.UTF_8));
                w.flush();
                buf.reset();
            } else if (b != '\r') {
                buf.write(b);
            }
        }
    }
}
