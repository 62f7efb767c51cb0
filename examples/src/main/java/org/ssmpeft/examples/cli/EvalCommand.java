package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.examples.tasks.TaskScorer;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.data.Split;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft eval --task T [--adapter DIR]...}: scores of the base model with the given adapters (or none). */
@Command(name = "eval", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Score the base model, with saved adapters or without, on a task: a bundled one or a published"
                + " benchmark (--task, --data).")
final class EvalCommand implements Callable<Integer> {

    private final AdapterFactory factory;

    @Spec
    CommandSpec spec;

    @Option(names = "--task", required = true, description = TaskRun.TASK_HELP)
    String task;

    @Option(names = "--spider-target", paramLabel = "TARGET", defaultValue = "as_written",
            description = TaskRun.SPIDER_TARGET_HELP)
    String spiderTarget;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A saved adapter folder (repeatable: they act"
            + " together); none scores the base model.")
    List<Path> adapterDirs = List.of();

    @Option(names = "--model", paramLabel = "DIR", description = "Base model folder (default: the bundled model).")
    Path model;

    @Option(names = "--data", paramLabel = "DIR", description = TaskRun.DATA_HELP)
    Path data;

    @Option(names = "--task-seed", defaultValue = "1", description = "Task generation seed (${DEFAULT-VALUE}).")
    long taskSeed;

    @Option(names = "--split", defaultValue = "test", description = "test, validation or train (${DEFAULT-VALUE}).")
    Split split;

    @Option(names = "--limit", defaultValue = "0", description = "Score only the first N examples (0: all).")
    int limit;

    @Option(names = "--beams", defaultValue = "1", description = "Beam search width for generation (1: greedy).")
    int beams;

    @Option(names = "--show", defaultValue = "3", description = "Print this many predictions (${DEFAULT-VALUE}).")
    int show;

    @Mixin
    BackendOption backend = new BackendOption();

    @Inject
    EvalCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        OutputChecks.atLeast(spec, "--limit", limit, 0);
        OutputChecks.atLeast(spec, "--beams", beams, 1);
        OutputChecks.atLeast(spec, "--show", show, 0);
        TaskRun run = TaskRun.open(task, data, taskSeed, TaskRun.options(spec, spiderTarget), model, backend, out);
        AdapterSet adapters = new AdapterSet(run.model.shape());
        for (Path dir : adapterDirs) {
            adapters.add(AdapterFiles.load(dir, run.model.shape(), factory));
        }
        Split s = split;
        TaskScorer scorer = run.scorer(run.evalExamples(s, limit), beams);
        out.printf("task %s, %s split; base: %s; adapters: %s%n", run.task.name(),
                split.name().toLowerCase(Locale.ROOT), run.describeModel(),
                adapters.names().isEmpty() ? "none" : adapters);
        long start = System.nanoTime();
        Map<String, Double> scores = TaskRun.evaluate(scorer, run.model, adapters);
        out.printf("%d examples in %.1f s: %s%n", scorer.lastPredictions().size(), (System.nanoTime() - start) / 1e9,
                TaskRun.format(scores));
        TaskRun.showPredictions(out, scorer, show);
        return 0;
    }
}
