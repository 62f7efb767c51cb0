package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.examples.bundled.BundledModel;
import org.ssmpeft.examples.tasks.BundledTasks;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.generate.Generation;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.generate.Generator;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.tokenize.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft generate TEXT}: the continuation of a prompt, with adapters or without. */
@Command(name = "generate", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Print the model's continuation of TEXT (greedy, or beam search).")
final class GenerateCommand implements Callable<Integer> {

    private final AdapterFactory factory;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "TEXT", description = "The prompt (with --task: the task input, e.g. a question).")
    String text;

    @Option(names = "--task", description = "Wrap TEXT in this bundled task's prompt format (prefix, instruction,"
            + " ###), as in training.")
    String task;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A saved adapter folder (repeatable).")
    List<Path> adapterDirs = List.of();

    @Option(names = "--model", paramLabel = "DIR", description = "Base model folder (default: the bundled model).")
    Path model;

    @Option(names = "--max-new-tokens", defaultValue = "96", description = "(${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--min-new-tokens", defaultValue = "0", description = "(${DEFAULT-VALUE})")
    int minNewTokens;

    @Option(names = "--beams", defaultValue = "1", description = "Beam width; 1 is greedy (${DEFAULT-VALUE}).")
    int beams;

    @Option(names = "--length-penalty", defaultValue = "1.0", description = "Beam length penalty (${DEFAULT-VALUE}).")
    double lengthPenalty;

    @Mixin
    BackendOption backend = new BackendOption();

    @Inject
    GenerateCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        OutputChecks.atLeast(spec, "--max-new-tokens", maxNewTokens, 1);
        OutputChecks.atLeast(spec, "--min-new-tokens", minNewTokens, 0);
        if (minNewTokens > maxNewTokens) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--min-new-tokens " + minNewTokens
                    + " is more than --max-new-tokens " + maxNewTokens + "; expected min <= max");
        }
        OutputChecks.atLeast(spec, "--beams", beams, 1);
        if (!Double.isFinite(lengthPenalty)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--length-penalty: expected a"
                    + " finite number, found " + lengthPenalty);
        }
        Path dir = BundledModel.orBundled(model);
        ModelSpec spec = Checkpoints.load(dir); // Mamba-1 or Mamba-2, by its config.json
        Tokenizer tok = Tokenizers.forModel(dir, spec.shape().vocab());
        SsmModel m = backend.create(spec, out);
        AdapterSet adapters = new AdapterSet(m.shape());
        for (Path a : adapterDirs) {
            adapters.add(AdapterFiles.load(a, m.shape(), factory));
        }
        int[] prompt = task == null ? tok.encode(text)
                : new Encoder(tok, BundledTasks.forName(task).format()).prompt(new Example(
                        task.equals("sql") ? "Question: " + text + "\n" : text, "", Map.of()));
        GenerationOptions g = GenerationOptions.greedy(maxNewTokens, tok.requireEos())
                .withMinNewTokens(minNewTokens).withBeams(beams).withLengthPenalty(lengthPenalty);
        Generation r = new Generator(m, adapters).generate(prompt, g);
        out.println(tok.decode(r.tokens(), true));
        return 0;
    }
}
