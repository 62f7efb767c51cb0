package org.ssmpeft.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ssmpeft.examples.tasks.BundledTask;
import org.ssmpeft.examples.tasks.BundledTasks;
import org.ssmpeft.examples.tasks.TaskFiles;
import org.ssmpeft.runtime.data.Example;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft tasks}: the bundled tasks; with {@code --write DIR}, one task's files. */
@Command(name = "tasks", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "List the bundled tasks, or write one task's files (train/validation/test"
        + " JSONL and resources) with --write.")
final class TasksCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--write", paramLabel = "DIR", description = "Write the task's files into DIR (needs --task).")
    Path write;

    @Option(names = "--task", description = "The task to write.")
    String task;

    @Option(names = "--seed", defaultValue = "1", description = "Generation seed (${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (write != null) {
            if (task == null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--write needs --task");
            }
            BundledTask t = BundledTasks.forName(task);
            OutputChecks.outputFolder(spec, "--write", write, java.util.Map.of());
            var splits = TaskFiles.generate(t, seed, TaskFiles.TRAIN, TaskFiles.VALIDATION, TaskFiles.TEST);
            TaskFiles.write(t, splits, write);
            out.printf("%s (seed %d): train %d, validation %d, test %d examples in %s%n", t.name(), seed,
                    splits.train().size(), splits.validation().size(), splits.test().size(), write);
            return 0;
        }
        for (BundledTask t : BundledTasks.ALL) {
            Example e = t.draw(new java.util.SplittableRandom(seed), false);
            out.printf("%s%n  %s%n  main score: %s%n  example: %s%n", t.name(), t.description(), t.mainScore(),
                    t.format().render(e).replace("\n", "\\n"));
        }
        return 0;
    }
}
