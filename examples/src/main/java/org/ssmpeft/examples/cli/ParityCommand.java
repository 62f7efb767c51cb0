package org.ssmpeft.examples.cli;

import com.google.inject.Inject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.runtime.parity.FixtureParity;
import org.ssmpeft.runtime.parity.ParityLine;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code peft parity DIR}: a model against the PyTorch reference tensors stored beside it. */
@Command(name = "parity", mixinStandardHelpOptions = true, version = PeftCommand.VERSION,
        description = "Check the model in DIR (config.json + model.safetensors) against the"
        + " reference tensors in DIR: reference.safetensors, peft-grads.safetensors, full-ft-grads.safetensors."
        + " One line per quantity; exit code 1 on any FAIL.")
final class ParityCommand implements Callable<Integer> {

    private final AdapterFactory factory;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIR", description = "A fixture folder (the layout of shared/fixtures/mamba-tiny).")
    Path dir;

    @Mixin
    BackendOption backend = new BackendOption();

    @Option(names = "--lora-alpha", paramLabel = "ALPHA",
            description = "LoRA alpha of the fixture's lora adapter (default: read from DIR/manifest.json).")
    Double loraAlpha;

    @Inject
    ParityCommand(AdapterFactory factory) {
        this.factory = factory;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        SsmModel model = backend.create(Checkpoints.load(dir), out);
        out.printf("parity of %s on backend %s (%s)%n", dir, model.backend(), model.shape().describe());
        List<ParityLine> lines = new FixtureParity(model, dir, factory, Optional.ofNullable(loraAlpha)).run();
        lines.forEach(out::println);
        long failed = lines.stream().filter(ParityLine::failed).count();
        long passed = lines.stream().filter(l -> l.verdict() == ParityLine.Verdict.PASS).count();
        long skipped = lines.size() - failed - passed;
        out.printf("parity: %d passed, %d failed, %d skipped%n", passed, failed, skipped);
        return failed == 0 ? 0 : 1;
    }
}
