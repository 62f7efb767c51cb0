package org.ssmpeft.examples.cli;

import com.google.inject.Guice;
import com.google.inject.Injector;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.ssmpeft.api.guice.PeftModule;
import org.ssmpeft.api.registry.PeftMethods;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft}: the command-line program. Methods are discovered at run time, from the class path and from the jars
 * of {@code --plugins DIR}, so a new method needs no change here.
 */
@Command(name = "peft", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Parameter-efficient fine-tuning of state space models (Mamba, Mamba-2).",
        subcommands = {MethodsCommand.class, ConfigCommand.class, ParityCommand.class, TasksCommand.class,
                PretrainCommand.class, TrainCommand.class, EvalCommand.class, GenerateCommand.class,
                CompareCommand.class, CommandLine.HelpCommand.class})
public final class PeftCommand implements Runnable {

    /** What {@code --version} prints, on every command (each also answers {@code -h}/{@code --help}). */
    static final String VERSION = "peft 0.1.0";

    @Option(names = "--plugins", paramLabel = "DIR",
            description = "Directory of extra PEFT method jars to load (in addition to the class path).")
    Path plugins;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true)));
    }

    /** Runs the program with these streams; returns the exit code (0 ok, 1 problems found, 2 usage error). */
    public static int run(String[] args, java.io.PrintWriter out, java.io.PrintWriter err) {
        // No AOP here, so Guice needs no generated classes (whose definer calls sun.misc.Unsafe and warns on JDK 24+).
        if (System.getProperty("guice_bytecode_gen_option") == null) {
            System.setProperty("guice_bytecode_gen_option", "DISABLED");
        }
        PeftMethods methods;
        try {
            methods = discover(pluginDir(args));
        } catch (RuntimeException | IOException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        CommandLine cli = commandLine(methods);
        cli.setOut(out);
        cli.setErr(err);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            err.println("error: " + message(e));
            return 1;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            // the loaders check sizes first; what is left is a real need for more heap than this JVM has
            err.println("error: out of memory (" + message(e) + ") with a heap of at most "
                    + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB: run java with a larger -Xmx, or choose a"
                    + " smaller model, adapter or batch");
            return 1;
        } catch (StackOverflowError e) {
            err.println("error: stack overflow in " + message(e) + "; please report it with the command line");
            return 1;
        }
    }

    /** The command tree with its commands built through Guice, as {@link #run} executes it. */
    static CommandLine commandLine(PeftMethods methods) {
        Injector injector = Guice.createInjector(new PeftModule(methods));
        return new CommandLine(PeftCommand.class, new GuiceFactory(injector));
    }

    /** What went wrong, in one line: the message, or for an exception without one its kind and where it began. */
    static String message(Throwable e) {
        if (e.getMessage() != null && !e.getMessage().isBlank()) {
            return e.getMessage();
        }
        StackTraceElement at = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
        return e.getClass().getName() + (at == null ? "" : " at " + at) + " (no message: please report it)";
    }

    /** The value of {@code --plugins} if given (read before picocli, since the registry must exist first). */
    static Path pluginDir(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--plugins") && i + 1 < args.length) {
                return Path.of(args[i + 1]);
            }
            if (args[i].startsWith("--plugins=")) {
                return Path.of(args[i].substring("--plugins=".length()));
            }
        }
        return null;
    }

    static PeftMethods discover(Path pluginDir) throws IOException {
        if (pluginDir == null) {
            return PeftMethods.load();
        }
        if (!Files.isDirectory(pluginDir)) {
            throw new IOException("--plugins " + pluginDir + " is not a directory");
        }
        List<URL> jars = new ArrayList<>();
        try (Stream<Path> files = Files.list(pluginDir)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
                try {
                    jars.add(p.toUri().toURL());
                } catch (MalformedURLException e) {
                    throw new IOException("cannot use plugin jar " + p, e);
                }
            }
        }
        // The loader lives as long as the program: the providers' classes come from it.
        @SuppressWarnings("resource")
        URLClassLoader loader = new URLClassLoader(jars.toArray(URL[]::new), PeftCommand.class.getClassLoader());
        return PeftMethods.load(loader);
    }

    /** Lets picocli build commands through Guice (constructor injection). */
    record GuiceFactory(Injector injector) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            if (cls.getPackageName().equals(PeftCommand.class.getPackageName())) {
                return injector.getInstance(cls);
            }
            return CommandLine.defaultFactory().create(cls);
        }
    }
}
