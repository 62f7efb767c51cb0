package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;

/**
 * The paper's protocol in {@code peft compare}: per method a learning-rate grid around a centre, chosen on the
 * validation split, then scored on test with several seeds (mean ± sd), written to compare.md, compare.csv and
 * compare.json in the run folder.
 */
class CompareProtocolTest {

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;

    @BeforeAll
    static void tinyModelAndTask() throws Exception {
        model = tmp.resolve("model");
        MambaCheckpoint.save(MambaInit.initialise(MambaConfig.of(264, 16, 4, 1), 3), model);
        data = tmp.resolve("sentiment");
        Cli w = Cli.run("tasks", "--write", data.toString(), "--task", "sentiment");
        assertThat(w.exitCode()).as(w.err()).isZero();
    }

    @Test
    void aGridChosenOnValidationAndSeveralSeedsGiveMeanAndSdInThreeFiles() throws Exception {
        Path out = tmp.resolve("protocol");
        Cli r = Cli.run("compare", "--task", "sentiment", "--data", data.toString(), "--model", model.toString(),
                "--methods", "state-offset,lora", "--lr-grid", "0.5,1,2", "--seeds", "1,2", "--steps", "1",
                "--batch", "2", "--limit", "4", "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("seeds 1,2").contains("learning rates: centre x [0.5, 1.0, 2.0] per method"
                + " (centre: the bundled defaults), chosen on 4 validation examples by accuracy")
                .contains("state-offset   lr 5.0e-03: validation accuracy ")
                .contains("state-offset   lr 2.0e-02: validation accuracy ")
                .contains("lora           lr 1.5e-03: validation accuracy ")
                .contains(" ± ");
        JsonNode json = new ObjectMapper().readTree(out.resolve("compare.json").toFile());
        assertThat(json.get("settings").get("seeds").toString()).isEqualTo("[1,2]");
        assertThat(json.get("settings").get("main_score").asText()).isEqualTo("accuracy");
        JsonNode offset = json.get("rows").get(1);
        assertThat(offset.get("method").asText()).isEqualTo("state-offset");
        assertThat(offset.get("seeds").asInt()).isEqualTo(2);
        assertThat(offset.get("validation_by_lr").size()).isEqualTo(3);
        assertThat(List.of(5e-3, 1e-2, 2e-2)).anySatisfy(lr -> assertThat(offset.get("lr").asDouble())
                .isCloseTo(lr, within(1e-12)));
        assertThat(offset.get("scores_sd").has("accuracy")).isTrue();
        assertThat(offset.get("peak_heap_mib").asDouble()).as("MiB of heap in use while training").isPositive();
        assertThat(out.resolve("compare.md")).content().isEqualTo(json.get("table").asText());
        List<String> csv = Files.readAllLines(out.resolve("compare.csv"));
        assertThat(csv).hasSize(4);
        assertThat(csv.getFirst()).startsWith("method,lr,trainable_parameters,percent_of_base,seeds,accuracy,f1,mcc,"
                + "out_of_class,accuracy_sd,").endsWith(",train_seconds,tokens_per_second,peak_heap_mib,failure");
        assertThat(csv.get(1)).startsWith("(base model),");
        assertThat(csv.get(2)).startsWith("state-offset,");
    }

    @Test
    void aComparisonStoppedAfterOneMethodResumesWithTheOthersAndDrawsTheChart() throws Exception {
        Path out = tmp.resolve("resumed");
        String[] common = {"compare", "--task", "sentiment", "--data", data.toString(), "--model", model.toString(),
                "--steps", "2", "--batch", "2", "--limit", "4", "--out", out.toString()};
        Cli first = Cli.run(concat(common, "--methods", "state-offset"));
        assertThat(first.exitCode()).as(first.err() + first.out()).isZero();
        assertThat(first.out()).as("a progress line per run").contains("step 2/2 loss").contains("ETA");
        String offsetRow = new ObjectMapper().readTree(out.resolve("compare.json").toFile()).get("rows").get(1)
                .toString();

        Cli other = Cli.run(concat(common, "--methods", "state-offset,lora", "--resume", "--seeds", "1,2"));
        assertThat(other.exitCode()).isEqualTo(2);
        assertThat(other.err()).contains("--resume: " + out.resolve("compare.json") + " was written with other"
                + " settings (seeds differ)");

        Cli resumed = Cli.run(concat(common, "--methods", "state-offset,lora", "--resume"));
        assertThat(resumed.exitCode()).as(resumed.err() + resumed.out()).isZero();
        assertThat(resumed.out()).contains("(base model)   accuracy").contains("(from compare.json)")
                .containsPattern("state-offset +accuracy .*\\(lr 1e-02, from compare.json\\)")
                .contains("step 2/2 loss");
        JsonNode rows = new ObjectMapper().readTree(out.resolve("compare.json").toFile()).get("rows");
        assertThat(rows).hasSize(3);
        assertThat(rows.get(1).toString()).as("kept as it was").isEqualTo(offsetRow);
        assertThat(rows.get(2).get("method").asText()).isEqualTo("lora");
        assertThat(javax.imageio.ImageIO.read(out.resolve("compare.png").toFile()).getWidth()).isEqualTo(800);
        // killed during lora: its row is not in compare.json yet, its run folder is there; it runs again
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(
                out.resolve("compare.json").toFile());
        ((com.fasterxml.jackson.databind.node.ArrayNode) json.get("rows")).remove(2);
        new ObjectMapper().writeValue(out.resolve("compare.json").toFile(), json);
        assertThat(out.resolve("lora")).isDirectory();
        Cli again = Cli.run(concat(common, "--methods", "state-offset,lora", "--resume"));
        assertThat(again.exitCode()).as(again.err() + again.out()).isZero();
        assertThat(again.out()).containsPattern("lora +accuracy .*\\(lr 3e-03, train ");
        assertThat(new ObjectMapper().readTree(out.resolve("compare.json").toFile()).get("rows")).hasSize(3);

        Cli alone = Cli.run("compare", "--task", "sentiment", "--resume");
        assertThat(alone.exitCode()).isEqualTo(2);
        assertThat(alone.err()).contains("--resume needs --out DIR");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void onABenchmarkTheGridIsCentredOnThePapersRate() throws Exception {
        Path glue = Path.of(CompareProtocolTest.class.getResource("/benchmarks/glue").toURI());
        Path out = tmp.resolve("protocol-sst2");
        Cli r = Cli.run("compare", "--task", "glue/sst2", "--data", glue.toString(), "--model", model.toString(),
                "--methods", "state-offset", "--lr-grid", "1,2", "--steps", "1", "--batch", "2", "--limit", "2",
                "--backend", "cpu", "--out", out.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("backend: cpu").contains("(centre: the paper's rates)")
                .contains("state-offset   lr 4.0e-04: validation accuracy ")
                .contains("state-offset   lr 8.0e-04: validation accuracy ");
        JsonNode row = new ObjectMapper().readTree(out.resolve("compare.json").toFile()).get("rows").get(1);
        assertThat(List.of(4e-4, 8e-4)).anySatisfy(lr -> assertThat(row.get("lr").asDouble())
                .isCloseTo(lr, within(1e-15)));
    }
}
