package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeftCommandTest {

    @Test
    void methodsListsEveryBuiltInMethodWithItsFields() {
        Cli r = Cli.run("methods");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("10 PEFT methods installed")
                .containsSubsequence("additional-scan", "bitfit", "full-ft", "initial-state", "lora", "partial-ft",
                        "prefix", "prompt", "sdlora", "state-offset")
                .contains("hooks: output:offset, state:offset")
                .contains("trainable parameters: 589,824 (0.455% of 129,135,360)")
                .contains("trainable parameters: 1,204,224 (0.924% of 129,135,360)")
                .contains("num_virtual_tokens   integer in [1, 4096] (default 20)")
                .contains("use_rslora           boolean (default false)");
    }

    @Test
    void validateReportsOkWithCountsOnAShape(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("two.yaml");
        Files.writeString(f, """
                adapters:
                  - name: offset
                    method: state-offset
                  - name: lora
                    method: lora
                    layers: 0-11
                    rank: 4
                    targets: [in_proj, out_proj]
                """);
        Cli r = Cli.run("config", "validate", f.toString(), "--shape", "mamba-130m");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains(f + ": OK, 2 adapters")
                .contains("offset: state-offset, layers \"all\", 589,824 trainable parameters on mamba-130m")
                // 12 layers · 4 · ((768 + 3072) + (1536 + 768))
                .contains("lora: lora, layers [\"0-11\"], 294,912 trainable parameters on mamba-130m");
    }

    @Test
    void theBundledExampleConfigsAreValid() throws Exception {
        try (var files = Files.list(Path.of("configs"))) {
            var configs = files.sorted().toList();
            assertThat(configs).hasSizeGreaterThanOrEqualTo(3);
            for (Path f : configs) {
                Cli r = Cli.run("config", "validate", f.toString(), "--shape", "mamba-130m");
                assertThat(r.exitCode()).as(f + ": " + r.out() + r.err()).isZero();
            }
        }
    }

    @Test
    void anUnknownShapeIsAUsageError(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("a.json");
        Files.writeString(f, "{\"method\": \"prompt\"}");
        Cli r = Cli.run("config", "validate", f.toString(), "--shape", "mamba-7b");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("unknown shape 'mamba-7b'; presets: mamba-tiny, mamba-130m");
    }

    @Test
    void aMissingPluginDirectoryIsReported() {
        Cli r = Cli.run("--plugins", "/no/such/dir", "methods");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--plugins /no/such/dir is not a directory");
    }
}
