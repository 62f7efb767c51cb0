package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.ssmpeft.api.config.ConfigBinder;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.PeftMethodProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code peft methods}: the installed methods, their hooks and config fields. */
@Command(name = "methods", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "List the installed PEFT methods with their config fields.")
final class MethodsCommand implements Callable<Integer> {

    private final PeftMethods methods;

    @Spec
    CommandSpec spec;

    @Option(names = "--shape", paramLabel = "NAME", defaultValue = "mamba-130m",
            description = "Model shape for the default parameter counts (${DEFAULT-VALUE}); one of the presets.")
    String shapeName;

    @Inject
    MethodsCommand(PeftMethods methods) {
        this.methods = methods;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ModelShape shape = ModelShape.requirePreset(shapeName);
        out.printf("%d PEFT methods installed (counts with default config on %s):%n", methods.names().size(),
                shapeName);
        for (PeftMethodProvider<?> p : methods.providers()) {
            out.println();
            out.printf("%s%n  %s%n", p.name(), p.description());
            out.printf("  hooks: %s%n", p.hooks().stream().map(Object::toString).sorted()
                    .collect(Collectors.joining(", ")));
            out.printf("  trainable parameters: %s%n", defaultCount(p, shape));
            out.printf("  provided by: %s%n", p.getClass().getName());
            out.println("  config fields:");
            for (var f : ConfigBinder.describe(p.configType(), p.defaultConfig())) {
                out.printf("    %-20s %s (default %s)%n", f.name(), f.type(), f.defaultValue());
                if (!f.doc().isEmpty()) {
                    out.printf("    %-20s %s%n", "", f.doc());
                }
            }
            if (p.perLayer()) {
                out.printf("    %-20s %s%n", "layers", "\"all\", an index, a list or ranges like \"0-11\""
                        + " (default \"all\")");
            }
        }
        return 0;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static String defaultCount(PeftMethodProvider p, ModelShape shape) {
        try {
            if (!p.problems(p.defaultConfig(), shape).isEmpty()) {
                return "n/a on " + shape.family();
            }
            long n = p.parameterCount(p.defaultConfig(), shape, LayerSelection.ALL);
            return String.format(Locale.ROOT, "%,d (%.3f%% of %,d)", n, 100.0 * n / (shape.baseParameterCount() + n),
                    shape.baseParameterCount());
        } catch (RuntimeException e) {
            return "n/a (" + e.getMessage() + ")";
        }
    }
}
