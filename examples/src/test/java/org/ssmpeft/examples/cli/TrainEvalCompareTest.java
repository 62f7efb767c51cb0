package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;

/** train, eval, generate and compare on a tiny random model (fast); the bundled model's run is in the slow test. */
class TrainEvalCompareTest {

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
        assertThat(w.out()).contains("train 1000, validation 40, test 100");
    }

    @Test
    void trainWritesAdapterMetricsAndCurveAndReportsBeforeAndAfter() throws Exception {
        Path cfg = tmp.resolve("run.yaml");
        Files.writeString(cfg, """
                task: sentiment
                data: %s
                model: %s
                adapter:
                  method: state-offset
                  variant: h
                training: {steps: 3, lr: 1e-2, batch: 4, seed: 42}
                eval: {split: test, limit: 8}
                output: %s
                """.formatted(data, model, tmp.resolve("out/offset")));
        Cli r = Cli.run("train", cfg.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("before (base model, test split, 8 examples): accuracy ")
                .contains("after (3 steps").contains("saved default");
        Path out = tmp.resolve("out/offset");
        assertThat(out.resolve("metrics.jsonl")).isNotEmptyFile();
        assertThat(out.resolve("training-curve.png")).isNotEmptyFile();
        assertThat(out.resolve("scores.json")).content().contains("\"before\"").contains("\"after\"");
        Adapter a = AdapterFiles.load(out.resolve("adapter"), MambaConfig.read(model.resolve("config.json"))
                .toShape(), new AdapterFactory(PeftMethods.load()));
        assertThat(a.method()).isEqualTo("state-offset");

        Cli e = Cli.run("eval", "--task", "sentiment", "--data", data.toString(), "--model", model.toString(),
                "--adapter", out.resolve("adapter").toString(), "--limit", "5");
        assertThat(e.exitCode()).as(e.err()).isZero();
        assertThat(e.out()).contains("5 examples in").contains("accuracy ").contains("mcc ");

        Cli g = Cli.run("generate", "--model", model.toString(), "--adapter", out.resolve("adapter").toString(),
                "--max-new-tokens", "5", "--beams", "2", "the food was");
        assertThat(g.exitCode()).as(g.err()).isZero();
        assertThat(g.out()).isNotBlank();
    }

    @Test
    void theExampleRunConfigReads() throws Exception {
        RunConfig c = RunConfig.read(Path.of("runs/train-sql-offset.yaml"),
                new AdapterFactory(PeftMethods.load()).reader());
        assertThat(c.task()).isEqualTo("sql");
        assertThat(c.adapters()).singleElement().satisfies(a -> assertThat(a.method()).isEqualTo("state-offset"));
        assertThat(c.steps()).isEqualTo(100);
        assertThat(c.options().learningRate()).isEqualTo(1e-2);
    }

    @Test
    void trainReportsConfigProblems() throws Exception {
        Path cfg = tmp.resolve("bad.yaml");
        Files.writeString(cfg, "task: sentiment\ntraining: {stepz: 3}\noutput: x\nadapter: {method: state-offset}\n");
        Cli r = Cli.run("train", cfg.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("training.stepz: unknown field");
    }

    @Test
    void evalScoresGenerationTasks() {
        Cli e = Cli.run("eval", "--task", "sql", "--model", model.toString(), "--limit", "2", "--show", "1");
        assertThat(e.exitCode()).as(e.err()).isZero();
        assertThat(e.out()).contains("execution_accuracy ").contains("exact_match ").contains("gold:");
    }

    @Test
    void compareprintsATableWithABaselineRowAndAFailureRow() throws Exception {
        Path out = tmp.resolve("compare");
        Cli r = Cli.run("compare", "--task", "sentiment", "--data", data.toString(), "--model", model.toString(),
                "--methods", "state-offset,lora,no-such-method", "--steps", "2", "--batch", "2", "--limit", "6",
                "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("| method | lr | trainable params | % of base | accuracy | f1 | mcc |"
                + " out_of_class | train s | tokens/s |")
                .contains("| (base model) | - | 0 | 0.00% |")
                .containsPattern("\\| state-offset \\| 1e-02 \\| [0-9,]+ \\| [0-9.]+% \\|")
                .containsPattern("\\| lora \\| 3e-03 \\| [0-9,]+ \\|")
                .contains("| no-such-method | 1e-03 | failed: ")
                .contains("wall time");
        var results = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("compare.json")
                .toFile());
        assertThat(results.get("rows")).hasSize(4);
        assertThat(results.get("rows").get(3).get("failure").asText()).contains("no-such-method");
        assertThat(r.out()).contains(results.get("table").asText());
    }

    /** DoRA and LoRA+ are rows of lora's options: they train and are scored like a method. */
    @Test
    void compareTrainsTheDoraAndLoraPlusRowsOfLora() {
        Cli r = Cli.run("compare", "--task", "sentiment", "--data", data.toString(), "--model", model.toString(),
                "--methods", "lora-dora,lora-plus", "--steps", "2", "--batch", "2", "--limit", "4");
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).containsPattern("\\| lora-dora \\| 3e-03 \\| [0-9,]+ \\| [0-9.]+% \\| [0-9.]+")
                .containsPattern("\\| lora-plus \\| 1e-03 \\| [0-9,]+ \\| [0-9.]+% \\| [0-9.]+")
                .doesNotContain("failed")
                .contains("also available (--methods NAME): lora-pissa");
    }

    @Test
    void compareRefusesBadNumbersAndAnOutputInsideTheModelBeforeAnyWork() {
        Cli steps = Cli.run("compare", "--task", "sentiment", "--model", model.toString(), "--steps", "0");
        assertThat(steps.exitCode()).isEqualTo(2);
        assertThat(steps.err()).contains("--steps: expected an integer >= 1, found 0");
        Cli lr = Cli.run("compare", "--task", "sentiment", "--model", model.toString(), "--lr", "lora=-1");
        assertThat(lr.err()).contains("--lr lora: expected a finite number > 0, found -1.0");
        Cli inside = Cli.run("compare", "--task", "sentiment", "--model", model.toString(), "--out",
                model.resolve("runs").toString());
        assertThat(inside.exitCode()).isEqualTo(2);
        assertThat(inside.err()).contains("--out " + model.resolve("runs") + " is inside the model folder");
        assertThat(model.resolve("runs")).doesNotExist();
    }
}
