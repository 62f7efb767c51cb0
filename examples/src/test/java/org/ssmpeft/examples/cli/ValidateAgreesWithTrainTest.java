package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.CompositionException;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;

/**
 * {@code peft config validate} refuses exactly the adapter combinations that {@code peft train} refuses, with the
 * same message, and accepts the ones train accepts (issue #16: two prompts validated "OK, 2 adapters").
 */
class ValidateAgreesWithTrainTest {

    private static final String TWO_PROMPTS = "adapters 'p1' and 'p2' both prepend virtual tokens at the embedding"
            + " input; virtual-token sequences do not add up, so only one of them can act at a time (disable or"
            + " deactivate one, or keep one of them in the config)";

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;

    @BeforeAll
    static void tinyModel() throws Exception {
        model = tmp.resolve("model");
        MambaCheckpoint.save(MambaInit.initialise(MambaConfig.of(264, 16, 4, 1), 3), model);
        data = tmp.resolve("sentiment");
        Cli w = Cli.run("tasks", "--write", data.toString(), "--task", "sentiment", "--seed", "1");
        assertThat(w.exitCode()).as(w.err()).isZero();
    }

    private static Path write(String name, String text) throws Exception {
        Path f = tmp.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    @Test
    void twoPromptsAreRefusedByValidateAndByTrainWithOneMessage() throws Exception {
        String adapters = "adapters:\n  - {name: p1, method: prompt}\n  - {name: p2, method: prompt}\n";
        Path cfg = write("two-prompts.yaml", adapters);

        Cli v = Cli.run("config", "validate", cfg.toString());
        assertThat(v.exitCode()).as(v.out()).isEqualTo(1);
        assertThat(v.out()).isEqualTo(cfg + ": 1 problem\n  " + TWO_PROMPTS + "\n");

        Path out = tmp.resolve("out/two-prompts");
        Path run = write("two-prompts-run.yaml", """
                task: sentiment
                data: %s
                model: %s
                adapter: %s
                training: {steps: 1, batch: 2}
                eval: {limit: 2}
                output: %s
                """.formatted(data, model, cfg, out));
        Cli t = Cli.run("train", run.toString());
        assertThat(t.exitCode()).isEqualTo(1);
        assertThat(t.err()).isEqualTo("error: " + TWO_PROMPTS + "\n");
        // refused before any work: nothing scored, nothing written
        assertThat(t.out()).doesNotContain("before");
        assertThat(out).doesNotExist();
    }

    @Test
    void aPromptAndAPrefixAreAcceptedByValidateAndTrainedByTrain() throws Exception {
        Path cfg = write("prompt-prefix.yaml", "adapters:\n  - {name: p1, method: prompt, num_virtual_tokens: 2}\n"
                + "  - {name: p2, method: prefix, num_virtual_tokens: 2}\n");
        Cli v = Cli.run("config", "validate", cfg.toString());
        assertThat(v.exitCode()).as(v.out()).isZero();
        assertThat(v.out()).contains(cfg + ": OK, 2 adapters");

        Path run = write("prompt-prefix-run.yaml", """
                task: sentiment
                data: %s
                model: %s
                adapter: %s
                training: {steps: 1, batch: 2}
                eval: {limit: 2}
                output: %s
                """.formatted(data, model, cfg, tmp.resolve("out/prompt-prefix")));
        Cli t = Cli.run("train", run.toString());
        assertThat(t.exitCode()).as(t.err() + t.out()).isZero();
        assertThat(t.out()).contains("saved p1").contains("saved p2");
    }

    /**
     * Every pair and every ordered triple with a repeat of the installed methods (their default configs): validate
     * (on the shape) says OK exactly when the factory train uses builds the set, and prints its refusal verbatim.
     */
    @Test
    void validateAndTheTrainFactoryAgreeOnEveryCombinationOfTheInstalledMethods() throws Exception {
        PeftMethods methods = PeftMethods.load();
        AdapterFactory factory = new AdapterFactory(methods);
        ModelShape shape = ModelShape.requirePreset("mamba-tiny");
        List<String> names = List.copyOf(methods.names());
        List<List<String>> combos = new ArrayList<>();
        for (String a : names) {
            for (String b : names) {
                combos.add(List.of(a, b));
                combos.add(List.of(a, b, a));
            }
        }
        int refused = 0;
        for (List<String> combo : combos) {
            StringBuilder text = new StringBuilder("adapters:\n");
            for (int i = 0; i < combo.size(); i++) {
                text.append("  - {name: a").append(i).append(", method: ").append(combo.get(i)).append("}\n");
            }
            Path cfg = write("combo.yaml", text.toString());
            List<AdapterConfig> configs = factory.reader().read(cfg);
            Optional<String> trainRefusal;
            try {
                factory.create(configs, shape, 1);
                trainRefusal = Optional.empty();
            } catch (CompositionException e) {
                trainRefusal = Optional.of(e.getMessage());
            }
            Cli v = Cli.run("config", "validate", cfg.toString(), "--shape", "mamba-tiny");
            if (trainRefusal.isPresent()) {
                refused++;
                assertThat(v.exitCode()).as(combo + ": " + v.out()).isEqualTo(1);
                // validate lists each conflict on a line; train's one exception joins them
                List<String> lines = v.out().lines().toList();
                assertThat(lines.getFirst()).isEqualTo(cfg + ": " + (lines.size() - 1) + " problem"
                        + (lines.size() == 2 ? "" : "s"));
                assertThat(String.join("; ", lines.subList(1, lines.size()).stream().map(l -> l.substring(2))
                        .toList())).as(combo.toString()).isEqualTo(trainRefusal.get());
            } else {
                assertThat(v.exitCode()).as(combo + ": " + v.out()).isZero();
                assertThat(v.out()).as(combo.toString()).contains(": OK, " + combo.size() + " adapters");
            }
        }
        // prompt+prompt, prefix+prefix, and the triples with either repeated or around the other
        assertThat(refused).isEqualTo(2 + 2 * names.size());
    }
}
