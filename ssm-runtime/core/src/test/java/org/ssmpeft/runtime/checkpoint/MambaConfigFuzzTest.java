package org.ssmpeft.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.testing.ConfigMutator;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * Property-based fuzzing of {@link MambaConfig#read}: seeded mutants ({@link ConfigMutator}) of the fixture's
 * transformers config.json, a state-spaces config and an empty object, written as files (some with invalid UTF-8).
 * Each must read to a config or throw a {@link CheckpointException} whose message names the file; never another
 * exception, never more than {@link #PER_INPUT} for one input. A failing input is saved under
 * {@code target/fuzz-failures/} and named in the message.
 */
class MambaConfigFuzzTest {

    private static final Duration PER_INPUT = Duration.ofSeconds(2);
    private static List<String> seeds;

    @BeforeAll
    static void seeds() throws IOException {
        seeds = List.of(
                Files.readString(Fixtures.mambaTiny().resolve("config.json")),
                """
                {"d_model": 64, "n_layer": 2, "vocab_size": 250, "pad_vocab_size_multiple": 16,
                 "tie_embeddings": false, "rms_norm": true, "residual_in_fp32": true, "attn_layer_idx": [],
                 "ssm_cfg": {"layer": "Mamba1", "d_state": 8, "d_conv": 3, "expand": 3, "dt_rank": "auto",
                             "bias": false, "conv_bias": true, "dt_min": 0.001}}
                """,
                """
                {"model_type": "mamba", "hidden_size": 32, "num_hidden_layers": 1, "vocab_size": 16,
                 "intermediate_size": 64, "time_step_rank": 2, "pad_token_id": null, "hidden_act": "silu"}
                """,
                "{}");
    }

    @Test
    void theSeedsAreValid(@TempDir Path dir) throws Exception {
        for (int i = 0; i < seeds.size(); i++) {
            Path file = dir.resolve("config-" + i + ".json");
            Files.writeString(file, seeds.get(i));
            assertThat(MambaConfig.read(file).layers()).isPositive();
        }
    }

    @Test
    void mutatedConfigsReadOrThrowACheckpointException(@TempDir Path dir) {
        campaign(dir, 1, 3000);
    }

    @Test
    @Tag("slow")
    void longCampaign(@TempDir Path dir) {
        campaign(dir, 101, 60_000);
    }

    /** Findings of this fuzzer, kept as plain regression cases. */
    @Test
    void regressions(@TempDir Path dir) throws Exception {
        // expand · hidden_size beyond int: Math.multiplyExact threw ArithmeticException out of read()
        assertBad(dir, "{\"hidden_size\": 2000000000, \"expand\": 2}", "expand", "hidden_size");
        // state-spaces vocab padding overflowed
        assertBad(dir, "{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 2147483647}", "vocab_size",
                "pad_vocab_size_multiple");
        assertBad(dir, "{\"d_model\": 1500000000, \"n_layer\": 2, \"ssm_cfg\": {\"expand\": 2}}", "expand",
                "d_model");
    }

    private static void assertBad(Path dir, String json, String... named) throws IOException {
        Path file = dir.resolve("bad.json");
        Files.writeString(file, json);
        var thrown = assertThatThrownBy(() -> MambaConfig.read(file)).isInstanceOf(CheckpointException.class);
        for (String n : named) {
            thrown.hasMessageContaining(n);
        }
    }

    private static void campaign(Path dir, long seed, int iterations) {
        assertTimeoutPreemptively(Duration.ofSeconds(10 + iterations / 50), () -> {
            var rnd = new SplittableRandom(seed);
            for (int i = 0; i < iterations; i++) {
                byte[] bytes = ConfigMutator.mutateBytes(seeds.get(rnd.nextInt(seeds.size())), rnd);
                Path file = dir.resolve("config.json");
                Files.write(file, bytes);
                String where = "seed " + seed + " iteration " + i;
                long t0 = System.nanoTime();
                try {
                    MambaConfig.read(file);
                } catch (CheckpointException e) {
                    if (e.getMessage() == null || !e.getMessage().contains(file.toString())) {
                        failWith(where, bytes, "a CheckpointException that does not name the file: " + e, e);
                    }
                } catch (Throwable t) {
                    failWith(where, bytes, "threw " + t, t);
                }
                Duration took = Duration.ofNanos(System.nanoTime() - t0);
                if (took.compareTo(PER_INPUT) > 0) {
                    failWith(where, bytes, "took " + took, null);
                }
            }
        });
    }

    private static void failWith(String where, byte[] bytes, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", "mamba-config-" + where.replace(' ', '-') + ".json");
        try {
            Files.createDirectories(saved.getParent());
            Files.write(saved, bytes);
        } catch (IOException e) {
            saved = Path.of("(not saved: " + e + ")");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        String shown = text.length() > 400 ? text.substring(0, 400) + "... (" + text.length() + " chars)" : text;
        fail(where + ": " + what + "; input saved to " + saved + ":\n" + shown, cause);
    }
}
