package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/**
 * {@code peft parity} against fixtures written by transformers: the public one (with every adapter's gradients) and
 * two made by {@code ssm-runtime/core/src/test/python/make_reference.py} with linear biases, an untied head, conv kernels
 * 3 and 2, no conv bias, dt ranks 7 and 3, state sizes 8 and 4 and odd vocabularies.
 */
class ParityCommandTest {

    /** The fixtures live with the runtime's tests; Maven runs this module's tests from its own folder. */
    private static final Path FIXTURES = Path.of("..", "ssm-runtime", "core", "src", "test", "resources", "fixtures");

    @ParameterizedTest
    @ValueSource(strings = {"mamba-tiny", "mamba-bias-untied", "mamba-noconvbias-k2"})
    void everyQuantityPasses(String fixture) {
        Cli r = Cli.run("parity", FIXTURES.resolve(fixture).toString());
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("PASS  logits").contains("PASS  step_logits").contains("PASS  loss")
                .contains("PASS  full-ft.loss").contains(" 0 failed, 0 skipped").doesNotContain("FAIL");
    }

    @ParameterizedTest
    @ValueSource(strings = {"mamba-tiny", "mamba-bias-untied", "mamba-noconvbias-k2"})
    void everyQuantityPassesOnTheDjlReferenceBackendToo(String fixture) {
        Cli r = Cli.run("parity", FIXTURES.resolve(fixture).toString(), "--backend", "djl");
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("backend: djl").contains("on backend djl").contains(" 0 failed, 0 skipped")
                .doesNotContain("FAIL");
    }

    @Test
    void thePublicFixtureChecksEveryAdapterKind() {
        Cli r = Cli.run("parity", FIXTURES.resolve("mamba-tiny").toString());
        assertThat(r.out()).contains("PASS  state_offset_h.layers.1.h_off.grad")
                .contains("PASS  state_offset_y.loss")
                .contains("PASS  initial_state.layers.0.h0.grad")
                .contains("PASS  lora.layers.1.dt_proj.lora_B.grad")
                .contains("PASS  prompt_tuning.virtual_embeddings.grad")
                .contains("PASS  backbone.embeddings.weight.grad")
                .contains("parity: 66 passed, 0 failed, 0 skipped");
    }

    @Test
    void aWrongReferenceFailsWithExitCode1(@TempDir Path dir) throws Exception {
        Path src = FIXTURES.resolve("mamba-bias-untied");
        for (String f : new String[] {"config.json", "model.safetensors", "full-ft-grads.safetensors"}) {
            Files.copy(src.resolve(f), dir.resolve(f));
        }
        Map<String, float[]> tensors = new HashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        long[] ids;
        try (SafetensorsFile ref = SafetensorsFile.open(src.resolve("reference.safetensors"))) {
            for (String n : ref.names()) {
                if (!n.equals("input_ids")) {
                    tensors.put(n, ref.readFloats(n));
                    shapes.put(n, ref.info(n).shape());
                }
            }
            ids = ref.readLongs("input_ids");
            shapes.put("input_ids", ref.info("input_ids").shape());
        }
        tensors.get("logits")[17] += 1e-3f; // beyond the 1e-4 tolerance
        var w = new SafetensorsWriter();
        tensors.forEach((n, v) -> w.putF32(n, v, shapes.get(n)));
        w.putI64("input_ids", ids, shapes.get("input_ids"));
        w.write(dir.resolve("reference.safetensors"));

        Cli r = Cli.run("parity", dir.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).containsPattern("FAIL  logits +max abs 1\\.0\\de-03")
                .contains("PASS  step_logits").contains("parity: 52 passed, 1 failed, 0 skipped");
    }

    @Test
    void aFolderWithoutReferencesIsAnError(@TempDir Path dir) throws Exception {
        Path src = FIXTURES.resolve("mamba-noconvbias-k2");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Cli r = Cli.run("parity", dir.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("has none of reference.safetensors, peft-grads.safetensors,"
                + " full-ft-grads.safetensors");
    }
}
