package org.ssmpeft.api.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.testing.ConfigMutator;
import org.ssmpeft.api.testing.TestMethods;

/**
 * Property-based fuzzing of {@link AdapterConfigReader} (Jazzer 0.24.0 resolves from Maven Central but its ASM cannot
 * instrument Java 25 class files, so it would run without coverage guidance): seeded mutants of valid JSON and YAML
 * configs ({@link ConfigMutator}). Every mutant must either parse to at least one adapter with no problem, or give
 * problems that each say something; never another exception, never more than {@link #PER_INPUT} for one input.
 * A failing input is written to {@code target/fuzz-failures/} and named in the message, with its seed.
 */
class AdapterConfigFuzzTest {

    private static final Duration PER_INPUT = Duration.ofSeconds(2);
    private static final AdapterConfigReader READER = new AdapterConfigReader(TestMethods.registry());
    private static final Optional<ModelShape> TINY = ModelShape.preset("mamba-tiny");

    private static final List<String> JSON_SEEDS = List.of(
            "{\"method\": \"test-bias\", \"width\": 3}",
            """
            {
              "method": "test-bias",
              "width": 8,
              "scale": 0.25,
              "frozen": true,
              "label": "hello",
              "mode": "plain",
              "colors": ["dark-blue", "red"],
              "slots": [0, 9],
              "layers": "0-1"
            }
            """,
            """
            {"adapters": [
              {"name": "a", "method": "test-bias", "layers": [1]},
              {"name": "b", "method": "test-tokens", "count": 4}
            ]}
            """,
            """
            {"adapters": {
              "a": {"method": "test-bias", "layers": [0, "1-1"]},
              "b": {"method": "test-tokens", "count": 4}
            }}
            """);

    private static final List<String> YAML_SEEDS = List.of(
            """
            method: test-bias
            width: 8
            scale: 0.25
            frozen: false
            label: hello
            mode: fancy-mode
            colors: [dark-blue, red]
            slots: [0, 9]
            layers: "0-1"
            """,
            """
            adapters:
              - name: a
                method: test-bias
                layers: [1]
              - name: b
                method: test-tokens
                count: 4
            """,
            """
            adapters:
              a: {method: test-bias, layers: all}
              b:
                method: test-tokens
                count: 4
            """);

    @Test
    void theSeedsAreValid() {
        for (String seed : JSON_SEEDS) {
            assertThat(READER.parse(seed, ConfigFormat.JSON)).as(seed).isNotEmpty();
        }
        for (String seed : YAML_SEEDS) {
            assertThat(READER.parse(seed, ConfigFormat.YAML)).as(seed).isNotEmpty();
        }
    }

    @Test
    void mutatedJsonParsesOrNamesItsProblems() {
        campaign(ConfigFormat.JSON, JSON_SEEDS, 1, 3000);
    }

    @Test
    void mutatedYamlParsesOrNamesItsProblems() {
        campaign(ConfigFormat.YAML, YAML_SEEDS, 2, 1000);
    }

    @Test
    void mutatedFilesReadOrThrowAConfigException(@TempDir Path dir) {
        files(dir, 3, 200);
    }

    @Test
    @Tag("slow")
    void longCampaign(@TempDir Path dir) {
        campaign(ConfigFormat.JSON, JSON_SEEDS, 101, 60_000);
        campaign(ConfigFormat.YAML, YAML_SEEDS, 102, 60_000);
        files(dir, 103, 5_000);
    }

    /** Known findings of this fuzzer, kept as plain regression cases. */
    @Test
    void regressions() {
        // a layer index beyond 64 bits was truncated to 0 by asLong()/asInt() and accepted
        assertThat(problems("{\"method\": \"test-bias\", \"layers\": 18446744073709551616}", ConfigFormat.JSON))
                .singleElement().asString().contains("layers").contains("18446744073709551616");
        assertThat(problems("{\"method\": \"test-bias\", \"layers\": [4294967296]}", ConfigFormat.JSON))
                .singleElement().asString().contains("layers[0]");
    }

    private static List<String> problems(String text, ConfigFormat format) {
        List<ConfigProblem> out = new ArrayList<>();
        READER.parse(text, format, Optional.empty(), out);
        return out.stream().map(ConfigProblem::toString).toList();
    }

    private static void campaign(ConfigFormat format, List<String> seeds, long seed, int iterations) {
        assertTimeoutPreemptively(Duration.ofSeconds(10 + iterations / 100), () -> {
            var rnd = new SplittableRandom(seed);
            for (int i = 0; i < iterations; i++) {
                String text = ConfigMutator.mutate(seeds.get(rnd.nextInt(seeds.size())), rnd);
                Optional<ModelShape> shape = rnd.nextBoolean() ? TINY : Optional.empty();
                check(text, format, shape, "seed " + seed + " iteration " + i);
            }
        });
    }

    private static void check(String text, ConfigFormat format, Optional<ModelShape> shape, String where) {
        List<ConfigProblem> problems = new ArrayList<>();
        List<AdapterConfig> out = List.of();
        long t0 = System.nanoTime();
        try {
            out = READER.parse(text, format, shape, problems);
        } catch (Throwable t) {
            failWith(where, text, "threw " + t, t);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        if (took.compareTo(PER_INPUT) > 0) {
            failWith(where, text, "took " + took, null);
        }
        if (problems.isEmpty() && out.isEmpty()) {
            failWith(where, text, "no adapter and no problem", null);
        }
        for (ConfigProblem p : problems) {
            if (p.message() == null || p.message().isBlank()) {
                failWith(where, text, "a problem without a message at '" + p.path() + "'", null);
            }
        }
    }

    private static void files(Path dir, long seed, int iterations) {
        assertTimeoutPreemptively(Duration.ofSeconds(10 + iterations / 20), () -> {
            var rnd = new SplittableRandom(seed);
            for (int i = 0; i < iterations; i++) {
                boolean yaml = rnd.nextBoolean();
                List<String> seeds = yaml ? YAML_SEEDS : JSON_SEEDS;
                byte[] bytes = ConfigMutator.mutateBytes(seeds.get(rnd.nextInt(seeds.size())), rnd);
                Path file = dir.resolve("adapter-" + i + (yaml ? ".yaml" : ".json"));
                Files.write(file, bytes);
                String where = "seed " + seed + " iteration " + i;
                try {
                    assertThat(READER.read(file)).isNotEmpty();
                } catch (ConfigException e) {
                    if (e.problems().isEmpty() || e.getMessage().isBlank()) {
                        failWith(where, new String(bytes, StandardCharsets.UTF_8), "an empty ConfigException", e);
                    }
                } catch (Throwable t) {
                    failWith(where, new String(bytes, StandardCharsets.UTF_8), "threw " + t, t);
                }
                Files.delete(file);
            }
        });
    }

    private static void failWith(String where, String text, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", "adapter-config-" + where.replace(' ', '-') + ".txt");
        try {
            Files.createDirectories(saved.getParent());
            Files.writeString(saved, text);
        } catch (IOException e) {
            saved = Path.of("(not saved: " + e + ")");
        }
        String shown = text.length() > 400 ? text.substring(0, 400) + "... (" + text.length() + " chars)" : text;
        fail(where + ": " + what + "; input saved to " + saved + ":\n" + shown, cause);
    }
}
