package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.shape.ModelShape;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft config ...}: work with adapter config files. */
@Command(name = "config", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Work with adapter config files.",
        subcommands = {ConfigCommand.Validate.class})
final class ConfigCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * {@code peft config validate FILE}: every problem of the file, or OK with the adapters it defines. The file's
     * adapters act together, so they are also checked as {@code peft train} combines them
     * ({@link AdapterFactory#compositionProblems}, the same check and message).
     */
    @Command(name = "validate", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
            description = "Report every problem in an adapter config file (JSON or YAML)."
            + " Exit code 1 when there is one.")
    static final class Validate implements Callable<Integer> {

        private final AdapterFactory factory;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The config file (.json, .yaml or .yml).")
        Path file;

        @Option(names = "--shape", paramLabel = "NAME",
                description = "Also check against this model shape (layers, targets) and count parameters;"
                        + " a preset such as mamba-130m, mamba-tiny, mamba2-130m.")
        String shapeName;

        @Inject
        Validate(AdapterFactory factory) {
            this.factory = factory;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Optional<ModelShape> shape = Optional.empty();
            if (shapeName != null) {
                try {
                    shape = Optional.of(ModelShape.requirePreset(shapeName));
                } catch (IllegalArgumentException e) {
                    throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
                }
            }
            List<ConfigProblem> problems = factory.reader().check(file, shape);
            List<AdapterConfig> adapters = problems.isEmpty() ? factory.reader().read(file) : List.of();
            if (problems.isEmpty()) {
                // the check that train's AdapterFactory.create makes: what validate accepts, train accepts
                problems = factory.compositionProblems(adapters);
            }
            if (!problems.isEmpty()) {
                out.printf("%s: %d problem%s%n", file, problems.size(), problems.size() == 1 ? "" : "s");
                problems.forEach(p -> out.println("  " + p));
                return 1;
            }
            out.printf("%s: OK, %d adapter%s%n", file, adapters.size(), adapters.size() == 1 ? "" : "s");
            for (AdapterConfig a : adapters) {
                String count = shape.map(s -> String.format(Locale.ROOT, ", %,d trainable parameters on %s",
                        countOf(a, s), shapeName)).orElse("");
                out.printf("  %s: %s, layers %s%s%n", a.name(), a.method(), a.layers().toJson(), count);
            }
            return 0;
        }

        private long countOf(AdapterConfig a, ModelShape s) {
            // from the parameter specs: validation never allocates what it validates
            return factory.parameterCount(a, s);
        }
    }
}
