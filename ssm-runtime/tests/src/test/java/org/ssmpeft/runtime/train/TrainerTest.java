package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.train.TrainingResult.StopReason;

/** The trainer on the tiny cpu model: reproducibility, exact resume, evaluation, early stopping, divergence, files. */
class TrainerTest {

    private static final CpuMamba MODEL = TinyMamba.model(5);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Trainer.Builder trainer(AdapterSet adapters, TrainingOptions options, Path dir) {
        return Trainer.builder(MODEL, adapters, options).outputDirectory(dir).curve(true, 640, 400);
    }

    /** LoRA+ ({@code loraplus_lr_ratio}): the trainer puts B and DoRA's magnitude in the faster parameter group. */
    @Test
    void loraPlusPutsBAndTheMagnitudeInAFasterParameterGroup(@TempDir Path dir) {
        var config = new org.ssmpeft.lora.LoraConfig(2, 4, 0, java.util.List.of(
                org.ssmpeft.api.hooks.Projection.IN_PROJ), false, true, 16);
        AdapterSet set = new AdapterSet(MODEL.shape()).add(TinyMamba.create("plus", "lora", config, 3));
        var groups = new java.util.TreeMap<String, Double>();
        trainer(set, TinyMamba.options(1).build(), dir).build().parameters()
                .forEach(p -> groups.put(p.name().substring(p.name().lastIndexOf('.') + 1), p.learningRateScale()));
        assertThat(groups).containsEntry("lora_A", 1.0).containsEntry("lora_B", 16.0)
                .containsEntry("lora_magnitude_vector", 16.0);
    }

    @Test
    void twoRunsWithTheSameSeedEndBitForBitEqual(@TempDir Path dir) throws IOException {
        AdapterSet a = TinyMamba.adapters(1);
        AdapterSet b = TinyMamba.adapters(1);
        Trainer first = trainer(a, TinyMamba.options(6).build(), dir.resolve("a")).build();
        Trainer second = trainer(b, TinyMamba.options(6).build(), dir.resolve("b")).build();
        Map<String, int[]> before = TinyMamba.bits(first.parameters());
        first.train(TinyMamba.data());
        second.train(TinyMamba.data());
        Map<String, int[]> end = TinyMamba.bits(first.parameters());
        assertThat(TinyMamba.bits(second.parameters())).usingRecursiveComparison().isEqualTo(end);
        assertThat(losses(dir.resolve("a"))).isEqualTo(losses(dir.resolve("b")));
        // it did train every tensor
        end.forEach((k, v) -> assertThat(v).as(k).isNotEqualTo(before.get(k)));

        AdapterSet c = TinyMamba.adapters(1);
        Trainer other = trainer(c, TinyMamba.options(6).seed(12).build(), dir.resolve("c")).build();
        other.train(TinyMamba.data());
        assertThat(losses(dir.resolve("c"))).isNotEqualTo(losses(dir.resolve("a")));
    }

    @Test
    void aRunStoppedAndResumedEndsExactlyAsAnUninterruptedOne(@TempDir Path dir) throws IOException {
        AdapterSet straight = TinyMamba.adapters(1);
        Trainer whole = trainer(straight, TinyMamba.options(8).checkpointEvery(4).evalEvery(2).build(),
                dir.resolve("whole")).evaluator(Evaluator.meanLoss(List.of(TinyMamba.data().batch(0, 0, 0))))
                .build();
        whole.train(TinyMamba.data());

        AdapterSet firstHalf = TinyMamba.adapters(1);
        TrainingResult half = trainer(firstHalf, TinyMamba.options(8).checkpointEvery(4).evalEvery(2).build(),
                dir.resolve("parts")).evaluator(Evaluator.meanLoss(List.of(TinyMamba.data().batch(0, 0, 0))))
                .stopAfter(4).build().train(TinyMamba.data());
        assertThat(half.reason()).isEqualTo(StopReason.STOP_AFTER);
        assertThat(half.steps()).isEqualTo(4);

        // new adapters with other values: resume must overwrite them from the checkpoint
        AdapterSet resumed = TinyMamba.adapters(99);
        Trainer rest = trainer(resumed, TinyMamba.options(8).checkpointEvery(4).evalEvery(2).build(),
                dir.resolve("parts")).evaluator(Evaluator.meanLoss(List.of(TinyMamba.data().batch(0, 0, 0))))
                .build();
        TrainingResult end = rest.resume(TinyMamba.data());
        assertThat(end.steps()).isEqualTo(8);
        assertThat(end.reason()).isEqualTo(StopReason.MAX_STEPS);

        assertThat(TinyMamba.bits(rest.parameters())).usingRecursiveComparison()
                .isEqualTo(TinyMamba.bits(whole.parameters()));
        assertSameTensors(TrainingCheckpoint.open(dir.resolve("parts/checkpoint-8")).optimizerState(),
                TrainingCheckpoint.open(dir.resolve("whole/checkpoint-8")).optimizerState());
        assertThat(withoutTimes(dir.resolve("parts"))).isEqualTo(withoutTimes(dir.resolve("whole")));
    }

    @Test
    void aCheckpointIsACompleteFolderAndOldOnesAreRotated(@TempDir Path dir) throws IOException {
        AdapterSet adapters = TinyMamba.adapters(1);
        Trainer t = trainer(adapters, TinyMamba.options(6).checkpointEvery(2).keepCheckpoints(2).build(), dir)
                .build();
        TrainingResult r = t.train(TinyMamba.data());
        assertThat(TrainingCheckpoint.list(dir)).extracting(p -> p.getFileName().toString())
                .containsExactly("checkpoint-4", "checkpoint-6");
        assertThat(r.lastCheckpoint()).isEqualTo(dir.resolve("checkpoint-6"));
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("checkpoint-4",
                    "checkpoint-6", Trainer.METRICS_FILE, Trainer.CURVE_FILE);
        }
        Path last = dir.resolve("checkpoint-6");
        try (Stream<Path> s = Files.list(last)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    TrainingCheckpoint.TRAINABLE_FILE, TrainingCheckpoint.OPTIMIZER_FILE,
                    TrainingCheckpoint.STATE_FILE);
        }
        var c = TrainingCheckpoint.open(last);
        JsonNode state = c.state();
        assertThat(state.path("step").asInt()).isEqualTo(6);
        assertThat(state.path("micro_batches").asInt()).isEqualTo(12);   // 6 steps x 2 accumulation
        assertThat(state.path("epoch").asInt()).isEqualTo(2);            // 6 batches per epoch
        assertThat(state.path("position").asInt()).isEqualTo(0);
        assertThat(state.path("optimizer").path("step").asInt()).isEqualTo(6);
        assertThat(state.path("stop_reason").asText()).isEqualTo("MAX_STEPS");
        assertThat(state.path("run").path("seed").asLong()).isEqualTo(11);
        Map<String, Tensor> saved = c.trainable();
        for (TrainableParameter p : t.parameters()) {
            assertThat(TinyMamba.bits(saved.get(p.key()))).as(p.key()).isEqualTo(TinyMamba.bits(p.value()));
            assertThat(c.optimizerState()).containsKeys(p.key() + ".exp_avg", p.key() + ".exp_avg_sq");
        }
        // the offset is exempt from decay, LoRA is decayed (their ParameterSpecs say so)
        assertThat(t.parameters()).filteredOn(p -> p.key().startsWith("adapter/offset/"))
                .allMatch(p -> !p.weightDecay()).isNotEmpty();
        assertThat(t.parameters()).filteredOn(p -> p.key().startsWith("adapter/lora/"))
                .allMatch(TrainableParameter::weightDecay).isNotEmpty();
    }

    @Test
    void metricsLogHasALinePerStepAndEvaluationAndTheCurveIsAPng(@TempDir Path dir) throws IOException {
        AdapterSet adapters = TinyMamba.adapters(1);
        TrainingResult r = trainer(adapters, TinyMamba.options(6).evalEvery(2).build(), dir)
                .evaluator(Evaluator.meanLoss(List.of(TinyMamba.data().batch(0, 1, 0)))).build()
                .train(TinyMamba.data());
        List<JsonNode> lines = lines(dir);
        assertThat(lines).extracting(n -> n.path("type").asText() + n.path("step").asInt()).containsExactly(
                "step1", "step2", "eval2", "step3", "step4", "eval4", "step5", "step6", "eval6");
        JsonNode step = lines.get(0);
        assertThat(step.path("loss").asDouble()).isPositive();
        assertThat(step.path("learning_rate").asDouble()).isEqualTo(0.0);   // warm-up starts at 0
        assertThat(lines.get(1).path("learning_rate").asDouble()).isEqualTo(0.01);
        assertThat(step.path("tokens").asInt()).isEqualTo(2 * 2 * 10);
        assertThat(step.path("targets").asInt()).isEqualTo(2 * 2 * 7);   // labels 3..9 of each row
        assertThat(lines.get(2).path("scores").path("eval_loss").asDouble()).isPositive();

        assertThat(r.curve()).contains(dir.resolve(Trainer.CURVE_FILE));
        BufferedImage png = ImageIO.read(dir.resolve(Trainer.CURVE_FILE).toFile());
        assertThat(png).isNotNull();
        assertThat(png.getWidth()).isEqualTo(640);
        assertThat(png.getHeight()).isEqualTo(400);
    }

    @Test
    void earlyStoppingEndsTheRunAndKeepsTheBestCheckpoint(@TempDir Path dir) {
        // scores by step: improves until step 2, then worse twice -> patience 2 stops after step 4
        double[] scores = {0, 0.5, 0.7, 0.6, 0.65, 0.9, 0.95};
        Evaluator scripted = (model, adapters, step) -> Map.of("accuracy", scores[step]);
        AdapterSet adapters = TinyMamba.adapters(1);
        TrainingResult r = trainer(adapters, TinyMamba.options(6).evalEvery(1).checkpointEvery(1).keepCheckpoints(1)
                .earlyStopping("accuracy", true, 2).build(), dir).evaluator(scripted).build().train(TinyMamba.data());
        assertThat(r.reason()).isEqualTo(StopReason.EARLY_STOPPING);
        assertThat(r.steps()).isEqualTo(4);
        assertThat(r.bestScore()).hasValue(0.7);
        assertThat(r.bestStep()).isEqualTo(2);
        assertThat(TrainingCheckpoint.list(dir)).extracting(p -> p.getFileName().toString())
                .containsExactly("checkpoint-2", "checkpoint-4");
        assertThat(TrainingCheckpoint.open(dir.resolve("checkpoint-4")).state().path("early_stopping")
                .path("best_step").asInt()).isEqualTo(2);
    }

    @Test
    void aNanGradientStopsTheRunNamingStepAndParameterAndKeepsTheLastCheckpoint(@TempDir Path dir)
            throws IOException {
        AdapterSet adapters = TinyMamba.adapters(1);
        String poisoned = "layers.1.state_offset";
        // micro-batch calls 1-8 are steps 1-4 (2 accumulated each); call 10 is the second micro-batch of step 5
        var model = PoisonedModel.gradient(MODEL, 10, "offset", poisoned, 7, Float.NaN);
        Map<String, int[]> atCheckpoint4 = new HashMap<>();
        List<TrainableParameter> params = new ArrayList<>();
        Trainer t = Trainer.builder(model, adapters, TinyMamba.options(8).checkpointEvery(2).build())
                .outputDirectory(dir).listener(new TrainingListener() {
                    @Override
                    public void onCheckpoint(int step, Path directory) {
                        if (step == 4) {
                            atCheckpoint4.putAll(TinyMamba.bits(params));
                        }
                    }
                }).build();
        params.addAll(t.parameters());
        assertThatThrownBy(() -> t.train(TinyMamba.data())).isInstanceOfSatisfying(TrainingDivergedException.class,
                e -> {
                    assertThat(e.step()).isEqualTo(5);
                    assertThat(e.parameter()).isEqualTo("adapter/offset/" + poisoned);
                    assertThat(e.lastGoodCheckpoint()).contains(dir.resolve("checkpoint-4"));
                    assertThat(e.getMessage()).contains("step 5 of 8", "adapter/offset/" + poisoned, "NaN",
                            "element 7", "micro-batch 2/2", "checkpoint-4");
                });
        // nothing of step 5 reached the tensors or the disk
        assertThat(TinyMamba.bits(params)).usingRecursiveComparison().isEqualTo(atCheckpoint4);
        assertThat(TrainingCheckpoint.latest(dir)).contains(dir.resolve("checkpoint-4"));
        Map<String, Tensor> saved = TrainingCheckpoint.open(dir.resolve("checkpoint-4")).trainable();
        atCheckpoint4.forEach((k, v) -> assertThat(TinyMamba.bits(saved.get(k))).as(k).isEqualTo(v));
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList()).isEmpty();
        }
        assertThat(lines(dir).getLast().path("type").asText()).isEqualTo("diverged");
    }

    @Test
    void anInfiniteLossStopsTheRun(@TempDir Path dir) {
        var model = PoisonedModel.loss(MODEL, 3, Double.POSITIVE_INFINITY);
        Trainer t = Trainer.builder(model, TinyMamba.adapters(1), TinyMamba.options(4).accumulationSteps(1).build())
                .outputDirectory(dir).build();
        assertThatThrownBy(() -> t.train(TinyMamba.data())).isInstanceOf(TrainingDivergedException.class)
                .hasMessageContaining("step 3 of 4").hasMessageContaining("the loss is Infinity")
                .hasMessageContaining("no checkpoint was written yet");
    }

    @Test
    void aFreshRunRefusesAFolderWithAnotherRunAndResumeRefusesOtherOptions(@TempDir Path dir) {
        trainer(TinyMamba.adapters(1), TinyMamba.options(2).build(), dir).build().train(TinyMamba.data());
        assertThatThrownBy(() -> trainer(TinyMamba.adapters(1), TinyMamba.options(2).build(), dir).build()
                .train(TinyMamba.data())).hasMessageContaining("already holds a run (checkpoint-2)")
                .hasMessageContaining("resume");
        assertThatThrownBy(() -> trainer(TinyMamba.adapters(1), TinyMamba.options(4).seed(3).build(), dir).build()
                .resume(TinyMamba.data())).hasMessageContaining("max_steps: checkpoint 2, now 4")
                .hasMessageContaining("seed: checkpoint 11, now 3");
        // a finished run resumes to its end at once
        TrainingResult again = trainer(TinyMamba.adapters(1), TinyMamba.options(2).build(), dir).build()
                .resume(TinyMamba.data());
        assertThat(again.steps()).isEqualTo(2);
        assertThat(again.reason()).isEqualTo(StopReason.MAX_STEPS);
    }

    @Test
    void baseWeightsTrainInPlaceAndTheModelSeesThem(@TempDir Path dir) {
        MambaWeights weights = TinyMamba.weights(5);
        float[] aLogBefore = weights.layers().get(1).aLog().clone();
        float[] dBefore = weights.layers().get(0).d().clone();
        Set<String> names = Set.of(MambaWeights.layerName(0, "mixer.D"), MambaWeights.layerName(1, "mixer.A_log"),
                MambaWeights.layerName(0, "mixer.out_proj.weight"));
        Trainer t = Trainer.builder(new CpuMamba(weights), new AdapterSet(TinyMamba.CONFIG.toShape()),
                TrainingOptions.builder(3, 0.01).weightDecay(0.1).build()).outputDirectory(dir)
                .trainBase(weights, names, CpuMamba::new).build();
        assertThat(t.parameters()).extracting(TrainableParameter::key).containsExactly(
                "base/backbone.layers.0.mixer.D", "base/backbone.layers.0.mixer.out_proj.weight",
                "base/backbone.layers.1.mixer.A_log");
        assertThat(t.parameters()).extracting(TrainableParameter::weightDecay).containsExactly(false, true, false);
        t.train(TinyMamba.data());
        assertThat(weights.layers().get(1).aLog()).isNotEqualTo(aLogBefore);
        assertThat(weights.layers().get(0).d()).isNotEqualTo(dBefore);
        // the trainer's model computes the updated weights, -exp(A_log) included
        Batch b = TinyMamba.data().batch(0, 0, 0);
        AdapterSet none = new AdapterSet(TinyMamba.CONFIG.toShape());
        assertThat(t.model().loss(b.tokens(), b.labels(), none))
                .isEqualTo(new CpuMamba(weights).loss(b.tokens(), b.labels(), none));
    }

    // ---------------------------------------------------------------------------------------------------------------

    static void assertSameTensors(Map<String, Tensor> actual, Map<String, Tensor> expected) {
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        expected.forEach((k, v) -> assertThat(TinyMamba.bits(actual.get(k))).as(k).isEqualTo(TinyMamba.bits(v)));
    }

    private static List<JsonNode> lines(Path dir) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(dir.resolve(Trainer.METRICS_FILE), StandardCharsets.UTF_8)) {
            out.add(JSON.readTree(l));
        }
        return out;
    }

    private static List<Double> losses(Path dir) throws IOException {
        return lines(dir).stream().filter(n -> n.path("type").asText().equals("step"))
                .map(n -> n.path("loss").asDouble()).toList();
    }

    /** The metrics log without wall times. */
    private static List<String> withoutTimes(Path dir) throws IOException {
        return lines(dir).stream().map(n -> {
            ((com.fasterxml.jackson.databind.node.ObjectNode) n).remove("seconds");
            return n.toString();
        }).toList();
    }
}
