package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigException;
import org.ssmpeft.api.registry.PeftMethods;

/** Run configs are read by the adapter-config binder: wrong types, ranges and keys are refused with their path. */
class RunConfigTest {

    private static final AdapterConfigReader READER = new AdapterFactory(PeftMethods.load()).reader();
    private static final String HEAD = "task: sql\nadapter: {method: state-offset}\noutput: out\n";

    @TempDir
    Path dir;

    private Path write(String name, String text) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of("training: {steps: \"two\"}\n",
                        "training.steps: expected an integer in [1, 2147483647], found string \"two\""),
                Arguments.of("training: {steps: 4294967297}\n",
                        "training.steps: expected an integer in [1, 2147483647], found number 4294967297 (too large)"),
                Arguments.of("training: {steps: 0}\n", "training.steps: expected a value in [1, 2147483647], found 0"),
                Arguments.of("training: {steps: 2.5}\n",
                        "training.steps: expected an integer in [1, 2147483647], found number 2.5"),
                Arguments.of("training: {batch: true}\n",
                        "training.batch: expected an integer in [1, 2147483647], found boolean true"),
                Arguments.of("training: {batch: -3}\n", "training.batch: expected a value in [1, 2147483647], found -3"),
                Arguments.of("training: {lr: \"fast\"}\n", "training.lr: expected a number, found string \"fast\""),
                Arguments.of("training: {lr: 0}\n", "training.lr: expected a learning rate > 0, found 0"),
                Arguments.of("training: {lr: -1e-3}\n", "training.lr: expected a learning rate > 0, found -0.001"),
                Arguments.of("training: {lr: 1e999}\n", "training.lr: expected a finite number, found Infinity"),
                Arguments.of("training: {lr: .nan}\n", "not valid YAML at line 4, column 20: Malformed numeric value"
                        + " '.nan'"),
                Arguments.of("training: {schedule: steep}\n",
                        "training.schedule: expected one of constant, linear, cosine, found string \"steep\""),
                Arguments.of("training: {warmup: -1}\n", "training.warmup: expected a value in [0, 2147483647], found -1"),
                Arguments.of("training: {seed: \"42\"}\n", "training.seed: expected an integer, found string \"42\""),
                Arguments.of("training: 5\n", "training: expected an object of training settings (steps, lr, batch,"
                        + " schedule, warmup, seed, eval_every, max_grad_norm, weight_decay, checkpoint_every,"
                        + " keep_checkpoints), found number 5"),
                Arguments.of("training: {stepz: 3}\n", "training.stepz: unknown field; did you mean 'steps'?; known"
                        + " fields: steps, lr, batch, schedule, warmup, seed, eval_every, max_grad_norm, weight_decay,"
                        + " checkpoint_every, keep_checkpoints"),
                Arguments.of("eval: {beams: 0}\n", "eval.beams: expected a value in [1, 2147483647], found 0"),
                Arguments.of("eval: {split: bogus}\n",
                        "eval.split: expected one of train, validation, test, found string \"bogus\""),
                Arguments.of("eval: {limit: -1}\n", "eval.limit: expected a value in [0, 2147483647], found -1"),
                Arguments.of("eval: [1]\n", "eval: expected an object of eval settings (split, limit, beams), found a"
                        + " list"),
                Arguments.of("task_seed: [1]\n", "task_seed: expected an integer, found a list"),
                Arguments.of("modle: x\n", "modle: unknown field; did you mean 'model'?; known fields: task, data,"
                        + " task_seed, model, output, spider_target, adapter, training, eval"),
                Arguments.of("data: \"  \"\n", "data: expected a non-blank path, found string \"  \""),
                Arguments.of("model: 3\n", "model: expected a string, found number 3"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("refused")
    void refusesWithThePathWhatWasExpectedAndWhatWasFound(String extra, String expected) throws Exception {
        Path f = write("run.yaml", HEAD + extra);
        assertThatThrownBy(() -> RunConfig.read(f, READER)).isInstanceOf(ConfigException.class)
                .hasMessage("invalid config " + f + " (1 problem):\n  " + expected);
    }

    @Test
    void topLevelProblemsAreNamed() throws Exception {
        Path f = write("run.yaml", "task: sql\nadapter: {method: state-offset}\noutput: \"\"\n");
        assertThatThrownBy(() -> RunConfig.read(f, READER))
                .hasMessageContaining("output: expected a non-blank path, found string \"\"");
        Path g = write("run2.yaml", "task: 5\noutput: out\n");
        assertThatThrownBy(() -> RunConfig.read(g, READER)).hasMessageContaining("(2 problems)")
                .hasMessageContaining("task: expected a string, found number 5")
                .hasMessageContaining("adapter: missing");
        Path h = write("run3.yaml", "adapter: {method: state-offset, variant: q}\n");
        assertThatThrownBy(() -> RunConfig.read(h, READER)).hasMessageContaining("task: missing")
                .hasMessageContaining("output: missing")
                .hasMessageContaining("adapter.variant: expected one of h, y, found string \"q\"");
        Path i = write("run4.yaml", "- task: sql\n");
        assertThatThrownBy(() -> RunConfig.read(i, READER)).hasMessageContaining("expected a run config: an object"
                + " with task, adapter, training, eval and output, found a list");
        Path j = write("run5.yaml", "");
        assertThatThrownBy(() -> RunConfig.read(j, READER)).hasMessageContaining("the file is empty");
    }

    @Test
    void anAdapterFileThatIsRefusedIsNamed() throws Exception {
        Path a = write("adapter.json", "{\"method\": \"lora\", \"rank\": 0}");
        Path f = write("run.yaml", "task: sql\nadapter: " + a + "\noutput: out\n");
        assertThatThrownBy(() -> RunConfig.read(f, READER)).hasMessageContaining("invalid config " + f)
                .hasMessageContaining("adapter: the adapter config " + a + " is refused: rank: expected a value in"
                        + " [1, 4096], found 0");
    }

    @Test
    void trailingContentAndSecondDocumentsAreRefused() throws Exception {
        Path y = write("run.yaml", HEAD + "---\ntraining: {steps: 1}\n");
        assertThatThrownBy(() -> RunConfig.read(y, READER)).hasMessage("invalid config " + y + " (1 problem):\n"
                + "  a second YAML document at line 4 (\"---\"); a config file holds one document");
        Path j = write("run.json", "{\"task\": \"sql\", \"adapter\": {\"method\": \"prompt\"}, \"output\": \"o\"} x");
        assertThatThrownBy(() -> RunConfig.read(j, READER)).hasMessageContaining("invalid config " + j)
                .hasMessageContaining("content after the JSON value at line 1, column 65: found \"x\"");
    }

    @Test
    void nonUtf8AndYamlSyntaxErrorsNameTheFileAndThePlace() throws Exception {
        Path f = dir.resolve("latin1.yaml");
        Files.write(f, (HEAD + "# caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> RunConfig.read(f, READER)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("invalid config " + f).hasMessageContaining("not UTF-8 text: byte 0xE9")
                .hasMessageContaining("(line 4)");
        Path g = write("broken.yaml", "task: sql\ntraining: {steps: 3\noutput: x\n");
        assertThatThrownBy(() -> RunConfig.read(g, READER)).hasMessageContaining("invalid config " + g)
                .hasMessageContaining("not valid YAML at line 3, column 7: ")
                .hasMessageNotContaining("in 'reader'").hasMessageNotContaining("\n    ");
    }

    @Test
    void theBundledRunConfigsRead() throws Exception {
        try (var files = Files.list(Path.of("runs"))) {
            List<Path> runs = files.filter(p -> p.toString().matches(".*\\.(ya?ml|json)")).toList();
            assertThat(runs).isNotEmpty();
            for (Path p : runs) {
                RunConfig c = RunConfig.read(p, READER);
                assertThat(c.adapters()).as(p.toString()).isNotEmpty();
            }
        }
        try (var files = Files.list(Path.of("configs"))) {
            for (Path p : files.toList()) {
                assertThat(READER.read(p)).as(p.toString()).isNotEmpty();
            }
        }
    }

    @Test
    void validValuesAreTakenAsWritten() throws Exception {
        Path f = write("run.json", "{\"task\": \"sentiment\", \"adapter\": {\"method\": \"prompt\"}, \"output\": \"o\","
                + " \"task_seed\": 4294967297, \"training\": {\"steps\": 7, \"lr\": 3e-4, \"batch\": 2,"
                + " \"schedule\": \"cosine\", \"warmup\": 1, \"seed\": -5, \"eval_every\": 2, \"max_grad_norm\": 0,"
                + " \"weight_decay\": 0.1}, \"eval\": {\"split\": \"validation\", \"limit\": 3, \"beams\": 2}}");
        RunConfig c = RunConfig.read(f, READER);
        assertThat(c.taskSeed()).isEqualTo(4294967297L);
        assertThat(List.of(c.steps(), c.batch(), c.warmup(), c.evalEvery(), c.evalLimit(), c.beams()))
                .containsExactly(7, 2, 1, 2, 3, 2);
        assertThat(c.lr()).isEqualTo(3e-4);
        assertThat(c.seed()).isEqualTo(-5);
        assertThat(c.evalSplit()).isEqualTo("validation");
        assertThat(c.output()).isEqualTo(Path.of("o").toAbsolutePath());
        assertThat(c.options().maxSteps()).isEqualTo(7);
    }

    /** One field of a run config, where it sits, and whether a value is valid for it. */
    private record Field(String section, String key, java.util.function.Predicate<Object> valid) {
        String path() {
            return section.isEmpty() ? key : section + "." + key;
        }
    }

    private static boolean isInt(Object v, long min) {
        return v instanceof Long l && l >= min && l <= Integer.MAX_VALUE;
    }

    private static final List<Field> FIELDS = List.of(
            new Field("training", "steps", v -> isInt(v, 1)),
            new Field("training", "batch", v -> isInt(v, 1)),
            new Field("training", "warmup", v -> isInt(v, 0)),
            new Field("training", "eval_every", v -> isInt(v, 0)),
            new Field("training", "seed", v -> v instanceof Long),
            new Field("training", "lr", v -> v instanceof Number n && Double.isFinite(n.doubleValue())
                    && n.doubleValue() > 0),
            new Field("training", "max_grad_norm", v -> v instanceof Number n && Double.isFinite(n.doubleValue())
                    && n.doubleValue() >= 0),
            new Field("training", "schedule", v -> v != null && List.of("constant", "linear", "cosine").contains(v)),
            new Field("eval", "beams", v -> isInt(v, 1)),
            new Field("eval", "limit", v -> isInt(v, 0)),
            new Field("eval", "split", v -> v != null && List.of("train", "validation", "test").contains(v)),
            new Field("", "task_seed", v -> v instanceof Long),
            new Field("", "output", v -> v instanceof String s && !s.isBlank()),
            new Field("", "model", v -> v instanceof String s && !s.isBlank()),
            new Field("", "task", v -> v instanceof String s && !s.isBlank()));

    private static final List<Object> VALUES = List.of(0L, 1L, 2L, -1L, 8L, 4294967297L, (long) Integer.MAX_VALUE,
            -9223372036854775807L, 0.5, 2.5, 1e-3, -0.01, 1e300, Double.POSITIVE_INFINITY, -1e-300, true, false,
            "two", "", " ", "linear", "cosine", "test", "fast", "1", List.of(1), Map.of("a", 1), "null-node");

    private static String json(Object v) {
        return switch (v) {
            case Double d when d.isInfinite() -> "1e999";
            case String s when s.equals("null-node") -> "null";
            case String s -> "\"" + s + "\"";
            case List<?> l -> "[1]";
            case Map<?, ?> m -> "{a: 1}";
            default -> v.toString();
        };
    }

    /**
     * A seeded campaign: each case swaps one or two fields of a valid run config for a random value; the config is
     * either refused with a message naming every wrong field (and no other), or read with the values as written.
     */
    @Test
    void fuzzedRunConfigsAreRefusedNamingTheFieldOrReadCorrectly() throws Exception {
        Random rnd = new Random(16);
        int refused = 0;
        int accepted = 0;
        for (int n = 0; n < 600; n++) {
            Map<Field, Object> changes = new LinkedHashMap<>();
            int k = 1 + rnd.nextInt(2);
            while (changes.size() < k) {
                changes.put(FIELDS.get(rnd.nextInt(FIELDS.size())), VALUES.get(rnd.nextInt(VALUES.size())));
            }
            Map<String, StringBuilder> sections = new LinkedHashMap<>();
            sections.put("", new StringBuilder());
            sections.put("training", new StringBuilder());
            sections.put("eval", new StringBuilder());
            Map<String, String> top = new LinkedHashMap<>(Map.of("task", "\"sql\"", "output", "\"out\""));
            for (var e : changes.entrySet()) {
                if (e.getKey().section().isEmpty()) {
                    top.put(e.getKey().key(), json(e.getValue()));
                } else {
                    sections.get(e.getKey().section()).append(e.getKey().key()).append(": ")
                            .append(json(e.getValue())).append(", ");
                }
            }
            StringBuilder text = new StringBuilder("adapter: {method: state-offset}\n");
            top.forEach((key, v) -> text.append(key).append(": ").append(v).append('\n'));
            for (String s : List.of("training", "eval")) {
                if (!sections.get(s).isEmpty()) {
                    text.append(s).append(": {").append(sections.get(s)).append("}\n");
                }
            }
            Path f = write("fuzz.yaml", text.toString());
            List<Field> wrong = new ArrayList<>();
            changes.forEach((field, v) -> {
                if (!field.valid().test(v instanceof String s && s.equals("null-node") ? null : v)) {
                    wrong.add(field);
                }
            });
            String what = "case " + n + ":\n" + text;
            if (wrong.isEmpty()) {
                RunConfig c = RunConfig.read(f, READER);
                accepted++;
                for (var e : changes.entrySet()) {
                    Object got = switch (e.getKey().path()) {
                        case "training.steps" -> (long) c.steps();
                        case "training.batch" -> (long) c.batch();
                        case "training.warmup" -> (long) c.warmup();
                        case "training.eval_every" -> (long) c.evalEvery();
                        case "training.seed" -> c.seed();
                        case "training.lr" -> c.lr();
                        case "training.max_grad_norm" -> c.maxGradNorm();
                        case "training.schedule" -> c.schedule().configName();
                        case "eval.beams" -> (long) c.beams();
                        case "eval.limit" -> (long) c.evalLimit();
                        case "eval.split" -> c.evalSplit();
                        case "task_seed" -> c.taskSeed();
                        case "output" -> c.output();
                        case "model" -> c.model();
                        case "task" -> c.task();
                        default -> throw new AssertionError(e.getKey());
                    };
                    Object want = e.getValue();
                    if (e.getKey().key().equals("output") || e.getKey().key().equals("model")) {
                        want = Path.of((String) want).toAbsolutePath();
                    } else if (got instanceof Double && want instanceof Long l) {
                        want = (double) l;
                    }
                    assertThat(got).as(what).isEqualTo(want);
                }
            } else {
                refused++;
                assertThatThrownBy(() -> RunConfig.read(f, READER)).as(what).isInstanceOf(ConfigException.class)
                        .satisfies(t -> {
                            ConfigException ce = (ConfigException) t;
                            assertThat(ce.getMessage()).as(what).startsWith("invalid config " + f);
                            assertThat(ce.problems()).as(what).hasSize(wrong.size());
                            for (Field w : wrong) {
                                assertThat(ce.problems()).as(what).anySatisfy(p -> {
                                    assertThat(p.path()).isEqualTo(w.path());
                                    assertThat(p.message()).containsAnyOf("expected", "missing");
                                });
                            }
                        });
            }
        }
        assertThat(refused).isGreaterThan(300);
        assertThat(accepted).isGreaterThan(30);
    }
}
