package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each bad config gets a message that names the field, the value found and what was expected. */
class BadConfigTest {

    @TempDir
    Path dir;

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                Arguments.of("unknown method", "json", "{\"method\": \"state_ofset\"}",
                        "method: unknown PEFT method 'state_ofset'; did you mean 'state-offset'?; installed:"
                                + " additional-scan, bitfit, full-ft, initial-state, lora, partial-ft, prefix, prompt,"
                                + " sdlora, state-offset"),
                Arguments.of("missing method", "yaml", "variant: h\n",
                        "method: missing; expected one of the installed methods: additional-scan, bitfit, full-ft,"
                                + " initial-state, lora, partial-ft, prefix, prompt, sdlora, state-offset"),
                Arguments.of("unknown field", "yaml", "method: lora\nrnak: 4\n",
                        "rnak: unknown field; did you mean 'rank'?; known fields: rank, alpha, dropout, targets,"
                                + " use_rslora, use_dora, loraplus_lr_ratio, init_lora_weights, name, method, layers"),
                Arguments.of("unknown lora init", "yaml", "method: lora\ninit_lora_weights: olora\n",
                        "init_lora_weights: expected one of default, pissa, found string \"olora\""),
                Arguments.of("wrong type", "json", "{\"method\": \"lora\", \"rank\": \"eight\"}",
                        "rank: expected an integer in [1, 4096], found string \"eight\""),
                Arguments.of("out of range", "json", "{\"method\": \"lora\", \"dropout\": 1.5}",
                        "dropout: expected a value in [0, 0.99], found 1.5"),
                Arguments.of("unknown variant", "yaml", "method: state-offset\nvariant: z\n",
                        "variant: expected one of h, y, found string \"z\""),
                Arguments.of("unknown target", "json", "{\"method\": \"lora\", \"targets\": [\"x_proj\", \"q_proj\"]}",
                        "targets[1]: expected one of in_proj, in_proj.x, in_proj.z, in_proj.B, in_proj.C,"
                                + " in_proj.dt, x_proj, x_proj.dt, x_proj.B, x_proj.C, dt_proj, out_proj, head, found string \"q_proj\"; did you mean 'x_proj'?"),
                Arguments.of("overlapping targets", "yaml", "method: lora\ntargets: [x_proj, x_proj.B]\n",
                        "targets: targets x_proj and x_proj.B overlap (the same rows would get two deltas); keep the"
                                + " whole projection or its blocks, not both"),
                Arguments.of("zero alpha", "json", "{\"method\": \"lora\", \"alpha\": 0}",
                        "alpha: expected alpha > 0, found 0.0 (alpha = 0 would switch the adapter off)"),
                Arguments.of("bad layer range", "yaml", "method: initial-state\nlayers: 7-3\n",
                        "layers: layer range \"7-3\" is empty: expected start <= end"),
                Arguments.of("layers on a whole-model method", "json", "{\"method\": \"prompt\", \"layers\": [0, 1]}",
                        "layers: method 'prompt' acts on the whole model, not per layer; remove 'layers' or set it to"
                                + " \"all\""),
                Arguments.of("duplicate adapter names", "yaml",
                        "adapters:\n  - {name: a, method: prompt}\n  - {name: a, method: lora}\n",
                        "adapters[1].name: duplicate adapter name \"a\"; names must be unique in a file"),
                Arguments.of("adapter without a name in a list", "json",
                        "{\"adapters\": [{\"method\": \"prompt\"}]}",
                        "adapters[0].name: missing; every adapter of a list needs a name"),
                Arguments.of("bad adapter name", "json", "{\"name\": \"my adapter/1\", \"method\": \"prompt\"}",
                        "name: adapter name \"my adapter/1\" is not allowed: expected 1-64 characters of letters,"
                                + " digits, '_', '.' or '-', starting with a letter or digit"),
                Arguments.of("kaiming on a vector", "yaml", "method: state-offset\nvariant: y\ninit: kaiming-uniform\n",
                        "init: kaiming-uniform needs a matrix but y' is a vector (d_inner); use zero or normal with"
                                + " variant y"),
                Arguments.of("not an object", "yaml", "- method: lora\n",
                        "expected an adapter ({\"method\": ...}) or {\"adapters\": [...]}, found a list"),
                Arguments.of("empty file", "json", "",
                        "the file is empty; expected an adapter ({\"method\": ...}) or {\"adapters\": [...]}"),
                Arguments.of("text after the JSON", "json", "{\"method\":\"lora\"} x",
                        "content after the JSON value at line 1, column 19: found \"x\"; a config file holds one value"),
                Arguments.of("a second YAML document", "yaml", "method: lora\n---\nmethod: prompt\n",
                        "a second YAML document at line 2 (\"---\"); a config file holds one document"),
                Arguments.of("YAML syntax error", "yaml", "method: lora\n  rank: 4\n",
                        "not valid YAML at line 2, column 7: mapping values are not allowed here"),
                Arguments.of("duplicate key", "json", "{\"method\": \"lora\", \"rank\": 2, \"rank\": 4}",
                        "not valid JSON at line 1, column 37: Duplicate field 'rank'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigs")
    void givesAPreciseMessage(String what, String ext, String text, String expected) throws Exception {
        Path f = dir.resolve("adapter." + ext);
        Files.writeString(f, text);
        Cli r = Cli.run("config", "validate", f.toString());
        assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).as(what).contains(f + ": 1 problem\n  " + expected + "\n");
    }

    static Stream<Arguments> badRunConfigs() {
        return Stream.of(
                Arguments.of("steps: \"two\"", "training: {steps: \"two\"}\n",
                        "training.steps: expected an integer in [1, 2147483647], found string \"two\""),
                Arguments.of("steps: 4294967297", "training: {steps: 4294967297}\n",
                        "training.steps: expected an integer in [1, 2147483647], found number 4294967297 (too large)"),
                Arguments.of("batch: true", "training: {batch: true}\n",
                        "training.batch: expected an integer in [1, 2147483647], found boolean true"),
                Arguments.of("lr: \"fast\"", "training: {lr: fast}\n",
                        "training.lr: expected a number, found string \"fast\""),
                Arguments.of("training: 5", "training: 5\n", "training: expected an object of training settings"),
                Arguments.of("eval.beams: 0", "eval: {beams: 0}\n",
                        "eval.beams: expected a value in [1, 2147483647], found 0"),
                Arguments.of("output: \"\"", "output: \"\"\n",
                        "output: expected a non-blank path, found string \"\""),
                Arguments.of("second document", "---\noutput: y\n", "a second YAML document at line 4"));
    }

    /** {@code peft train} refuses each before any work, naming the file, the field, what was expected and found. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badRunConfigs")
    void trainRefusesABadRunConfig(String what, String extra, String expected) throws Exception {
        Path f = dir.resolve("run.yaml");
        String text = "task: sentiment\nadapter: {method: state-offset}\n" + (extra.startsWith("output")
                ? extra : "output: " + dir.resolve("out") + "\n" + extra);
        Files.writeString(f, text);
        Cli r = Cli.run("train", f.toString());
        assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err()).as(what).startsWith("error: invalid config " + f + " (1 problem):\n  " + expected);
        assertThat(r.out()).as(what).doesNotContain("before (base model");
        assertThat(dir.resolve("out")).doesNotExist();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapeChecks")
    void checksAgainstAModelShape(String what, String text, String expected) throws Exception {
        Path f = dir.resolve("adapter.yaml");
        Files.writeString(f, text);
        Cli r = Cli.run("config", "validate", f.toString(), "--shape", "mamba2-130m");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).as(what).contains("  " + expected + "\n");
    }

    static Stream<Arguments> shapeChecks() {
        return Stream.of(
                Arguments.of("layer beyond the model", "method: state-offset\nlayers: [0, 24]\n",
                        "layers: layer 24 does not exist; the model has 24 layers (0-23)"),
                Arguments.of("Mamba-1 target on Mamba-2", "method: lora\ntargets: [out_proj, dt_proj]\n",
                        "targets[1]: target dt_proj does not exist in mamba2 blocks; mamba2 has: in_proj,"
                                + " in_proj.x, in_proj.z, in_proj.B, in_proj.C, in_proj.dt, out_proj, head"));
    }
}
