package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;

/**
 * {@code peft eval}, {@code train} (run config) and {@code compare} on the published benchmark layouts (samples in the
 * test resources, copied to a fresh folder), with a tiny random model: each reports the paper's scores for its task and
 * leaves the data folder byte for byte as it was.
 */
class BenchmarkTasksCliTest {

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;

    @BeforeAll
    static void tinyModelAndACopyOfTheSamples() throws Exception {
        model = tmp.resolve("model");
        MambaCheckpoint.save(MambaInit.initialise(MambaConfig.of(264, 16, 4, 1), 3), model);
        Path samples = Path.of(BenchmarkTasksCliTest.class.getResource("/benchmarks").toURI());
        data = tmp.resolve("benchmarks");
        try (Stream<Path> files = Files.walk(samples)) {
            for (Path p : files.toList()) {
                Path to = data.resolve(samples.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    @ParameterizedTest(name = "eval --task {0}")
    @CsvSource({
            "spider, spider, 'execution_accuracy ', 'exact_set_match '",
            "samsum, samsum, 'rouge1 ', 'rougeLsum '",
            "dart, dart, 'bleu ', 'sacrebleu '",
            "glue/cola, glue, 'mcc ', 'out_of_class '",
            "glue/sst2, glue, 'accuracy ', 'out_of_class '",
            "glue/mrpc, glue, 'f1 ', 'out_of_class '",
            "glue/mnli, glue, 'accuracy ', 'out_of_class '",
            "glue/stsb, glue, 'pearson ', 'spearmanr '",
            "jsonl, jsonl, 'exact_match ', 'rougeL '"})
    void evalScoresEachBenchmarkAndLeavesItsFolderUnchanged(String task, String dir, String score, String other)
            throws Exception {
        Path folder = data.resolve(dir);
        Map<String, String> before = DataFolderReadOnlyTest.hashes(folder);
        Cli e = Cli.run("eval", "--task", task, "--data", folder.toString(), "--model", model.toString(),
                "--limit", "2", "--show", "1");
        assertThat(e.exitCode()).as(e.err() + e.out()).isZero();
        assertThat(e.out()).contains("task " + task + ", test split").contains("2 examples in").contains(score)
                .contains(other).contains("gold:");
        assertThat(DataFolderReadOnlyTest.hashes(folder)).isEqualTo(before);
    }

    @Test
    void spiderTrainsFromARunConfigWithTheLowerCasedTargetAndLeavesTheFolderUnchanged() throws Exception {
        Path folder = data.resolve("spider");
        Map<String, String> before = DataFolderReadOnlyTest.hashes(folder);
        Path cfg = Files.writeString(tmp.resolve("spider.yaml"), """
                task: spider
                data: %s
                spider_target: lower_cased
                model: %s
                adapter: {method: state-offset, variant: h}
                training: {steps: 2, lr: 1e-2, batch: 2, seed: 42}
                eval: {split: test, limit: 1}
                output: %s
                """.formatted(folder, model, tmp.resolve("out/spider")));
        Cli r = Cli.run("train", cfg.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("task spider (Spider text-to-SQL from " + folder + " (target lower_cased")
                .contains("before (base model, test split, 1 examples): execution_accuracy ")
                .contains("gold:      SELECT Name FROM city WHERE Country = 'Chile'");
        assertThat(DataFolderReadOnlyTest.hashes(folder)).isEqualTo(before);
    }

    @Test
    void trainTakesTheTaskAndDataFromTheCommandLineOverTheRunConfig() throws Exception {
        Path folder = data.resolve("glue");
        Map<String, String> before = DataFolderReadOnlyTest.hashes(folder);
        Path cfg = Files.writeString(tmp.resolve("bundled.yaml"), """
                task: sentiment
                model: %s
                adapter: {method: lora, rank: 2, alpha: 2}
                training: {steps: 1, lr: 1e-3, batch: 2, seed: 42}
                eval: {split: test, limit: 2}
                output: %s
                """.formatted(model, tmp.resolve("out/mnli")));
        Cli r = Cli.run("train", cfg.toString(), "--task", "glue/mnli", "--data", folder.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("task glue/mnli (GLUE MNLI from " + folder)
                .contains("before (base model, test split, 2 examples): accuracy ");
        assertThat(DataFolderReadOnlyTest.hashes(folder)).isEqualTo(before);
    }

    @Test
    void compareDecodesWithBeamsOnAGenerationTask() throws Exception {
        Path out = tmp.resolve("compare-dart");
        Cli r = Cli.run("compare", "--task", "dart", "--data", data.resolve("dart").toString(), "--model",
                model.toString(), "--methods", "state-offset", "--steps", "1", "--batch", "2", "--limit", "1",
                "--beams", "2", "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("| method | lr | trainable params | % of base | bleu | sacrebleu |");
        assertThat(out.resolve("compare.json")).content().contains("\"beams\" : 2");
    }

    @Test
    void theExampleSpiderRunConfigReads() {
        RunConfig c = RunConfig.read(Path.of("runs/train-spider-offset.yaml"),
                new org.ssmpeft.api.composition.AdapterFactory(org.ssmpeft.api.registry.PeftMethods.load()).reader());
        assertThat(c.task()).isEqualTo("spider");
        assertThat(c.benchmark().spiderTarget()).isEqualTo(org.ssmpeft.runtime.data.SpiderData.Target.LOWER_CASED);
        assertThat(c.options().learningRate()).isEqualTo(2e-4);
        assertThat(c.beams()).isEqualTo(5);
    }

    @Test
    void compareRunsOnAGlueTask() throws Exception {
        Path out = tmp.resolve("compare-sst2");
        Cli r = Cli.run("compare", "--task", "glue/sst2", "--data", data.resolve("glue").toString(), "--model",
                model.toString(), "--methods", "state-offset", "--steps", "1", "--batch", "2", "--limit", "2",
                "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("| method | lr | trainable params | % of base | accuracy | out_of_class |");
    }

    @Test
    void compareOnStsbRanksByPearsonAndLeavesTheFolderUnchanged() throws Exception {
        Path folder = data.resolve("glue");
        Map<String, String> before = DataFolderReadOnlyTest.hashes(folder);
        Path out = tmp.resolve("compare-stsb");
        Cli r = Cli.run("compare", "--task", "glue/stsb", "--data", folder.toString(), "--model", model.toString(),
                "--methods", "state-offset", "--steps", "1", "--batch", "2", "--limit", "1", "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("| method | lr | trainable params | % of base | pearson | spearmanr |"
                + " out_of_class |");
        assertThat(out.resolve("compare.json")).content().contains("\"main_score\" : \"pearson\"");
        assertThat(DataFolderReadOnlyTest.hashes(folder)).isEqualTo(before);
    }

    @Test
    void anUnknownTaskListsTheInstalledOnesAndABadSpiderTargetIsAUsageError() {
        Cli r = Cli.run("eval", "--task", "glue/stsx", "--data", data.resolve("glue").toString(), "--model",
                model.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("unknown task 'glue/stsx'; installed: sql, triples, sentiment, spider, samsum,"
                + " dart, glue/cola, glue/sst2, glue/mrpc, glue/qqp, glue/qnli, glue/rte, glue/mnli, glue/wnli, glue/stsb,"
                + " jsonl");
        Cli t = Cli.run("eval", "--task", "spider", "--data", data.resolve("spider").toString(), "--spider-target",
                "upper");
        assertThat(t.exitCode()).isEqualTo(2);
        assertThat(t.err()).contains("--spider-target: unknown Spider target 'upper'");
    }

    @Test
    void aBenchmarkWithoutItsFilesIsRefusedBeforeTheModelLoads() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Cli r = Cli.run("eval", "--task", "samsum", "--data", empty.toString(), "--model", model.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("the data folder holds no train.json, no val.json, no test.json; expected the"
                + " published samsum layout");
        assertThat(r.out()).doesNotContain("backend:");
        try (var s = Files.list(empty)) {
            assertThat(s.toList()).isEmpty();
        }
    }
}
