package org.ssmpeft.runtime.cuda.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.TrainingSession;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.train.Batch;
import org.ssmpeft.runtime.train.BatchSource;
import org.ssmpeft.runtime.train.Trainer;
import org.ssmpeft.runtime.train.TrainingCheckpoint;
import org.ssmpeft.runtime.train.TrainingDivergedException;
import org.ssmpeft.runtime.train.TrainingOptions;
import org.ssmpeft.runtime.train.TrainingResult;

/**
 * The trainer's device path ({@link CudaTrainingSession}: tensors, gradients and moments resident, accumulation,
 * norm, clipping and one AdamW launch on the device) on the emulated device ({@link HostOptimizer} for
 * {@code optimizer.cu}) against the trainer's host path on the same emulated model (a device without the optimiser's
 * kernels): the same forward and backward, so every difference would be the optimiser's. They agree bit for bit
 * (values, moments, losses); the norm's sum of squares runs in another order on the device, so norms are compared
 * to 1e-12 relative, and the clipping coefficient derived from it came out the same float in every step here.
 */
class EmulatedDeviceTrainingTest {

    private static final MambaWeights WEIGHTS = RandomModels.defaults().getFirst().weights();
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());
    /** LoRA (whole-tensor terms) and two state offsets on the same hook (a sum term, assembled on the device). */
    private static final List<String> CONFIGS = List.of("method: lora\nrank: 2\ntargets: [in_proj, x_proj, head]\n",
            "method: state-offset\n", "method: state-offset\n");

    private static AdapterSet adapters(long seed) {
        AdapterSet set = new AdapterSet(WEIGHTS.shape());
        for (int i = 0; i < CONFIGS.size(); i++) {
            AdapterConfig parsed = FACTORY.reader().parse(CONFIGS.get(i), ConfigFormat.YAML).getFirst();
            Adapter a = FACTORY.create(new AdapterConfig("a" + i, parsed.method(), parsed.layers(), parsed.config()),
                    WEIGHTS.shape(), AdapterFactory.seeded(seed + i));
            set.add(RandomModels.randomize(a, 0.1, seed + i));
        }
        return set;
    }

    private static BatchSource data() {
        var rng = new java.util.Random(5);
        List<Batch> batches = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            int[][] tokens = new int[2][6];
            for (int[] row : tokens) {
                for (int t = 0; t < row.length; t++) {
                    row[t] = rng.nextInt(WEIGHTS.config().vocabSize());
                }
            }
            batches.add(Batch.languageModeling(tokens));
        }
        return BatchSource.of(batches);
    }

    private static TrainingOptions.Builder options(int steps) {
        return TrainingOptions.builder(steps, 0.05).weightDecay(0.1).maxGradNorm(0.05).accumulationSteps(2)
                .checkpointEvery(2);
    }

    private static CudaMamba device() {
        return new CudaMamba(WEIGHTS, HostDevice.create(new HostMemory()));
    }

    private static CudaMamba host() {
        return new CudaMamba(WEIGHTS, HostDevice.withoutOptimizer(new HostMemory()));
    }

    private static Map<String, int[]> bits(Trainer t) {
        Map<String, int[]> out = new LinkedHashMap<>();
        t.parameters().forEach(p -> out.put(p.key(), bits(p.value().data())));
        return out;
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }

    private static Map<String, int[]> moments(Path checkpoint) {
        Map<String, int[]> out = new LinkedHashMap<>();
        TrainingCheckpoint.open(checkpoint).optimizerState().forEach((k, v) -> out.put(k, bits(v.data())));
        return out;
    }

    private static List<String> metrics(Path dir, String field) throws java.io.IOException {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<String> out = new ArrayList<>();
        for (String line : java.nio.file.Files.readAllLines(dir.resolve(Trainer.METRICS_FILE))) {
            var n = json.readTree(line);
            if (n.has(field)) {
                out.add(n.get(field).asText());
            }
        }
        return out;
    }

    @Test
    void theEmulatedCudaModelOffersTheDeviceSessionAndTheDeviceWithoutKernelsDoesNot() {
        AdapterSet set = adapters(1);
        var settings = new TrainingSession.Settings(List.of(), Set.of(), 0.9, 0.999, 1e-8, 0);
        try (CudaMamba d = device(); CudaMamba h = host()) {
            assertThat(d.residentTraining(set, settings)).isPresent();
            assertThat(h.residentTraining(set, settings)).isEmpty();
            assertThat(CudaTrainingSession.supports(HookPlan(set), new TrainingSession.Settings(List.of(),
                    Set.of("backbone.norm_f.weight"), 0.9, 0.999, 1e-8, 0))).hasValueSatisfying(
                    r -> assertThat(r).contains("base weights"));
        }
    }

    private static org.ssmpeft.runtime.plan.HookPlan HookPlan(AdapterSet set) {
        return org.ssmpeft.runtime.plan.HookPlan.resolve(WEIGHTS, set, true);
    }

    @Test
    void trainingOnTheDeviceEqualsTrainingThroughTheHostBitForBit(@TempDir Path dir) throws Exception {
        try (CudaMamba d = device(); CudaMamba h = host()) {
            Trainer onDevice = Trainer.builder(d, adapters(1), options(6).build()).outputDirectory(dir.resolve("d"))
                    .curve(false, 1, 1).build();
            Trainer onHost = Trainer.builder(h, adapters(1), options(6).build()).outputDirectory(dir.resolve("h"))
                    .curve(false, 1, 1).build();
            Map<String, int[]> start = bits(onDevice);
            onDevice.train(data());
            onHost.train(data());
            assertThat(bits(onDevice)).usingRecursiveComparison().isEqualTo(bits(onHost));
            bits(onDevice).forEach((k, v) -> assertThat(v).as(k + " trained").isNotEqualTo(start.get(k)));
            for (int s = 4; s <= 6; s += 2) { // the two checkpoints kept
                assertThat(moments(dir.resolve("d/checkpoint-" + s))).as("moments at step " + s)
                        .usingRecursiveComparison().isEqualTo(moments(dir.resolve("h/checkpoint-" + s)));
            }
            assertThat(metrics(dir.resolve("d"), "loss")).hasSize(6).isEqualTo(metrics(dir.resolve("h"), "loss"));
            List<String> dn = metrics(dir.resolve("d"), "grad_norm");
            List<String> hn = metrics(dir.resolve("h"), "grad_norm");
            assertThat(dn).hasSize(6);
            for (int i = 0; i < dn.size(); i++) {
                double a = Double.parseDouble(dn.get(i));
                double b = Double.parseDouble(hn.get(i));
                assertThat(a).as("norm of step " + (i + 1) + " (clipped to 0.05)").isGreaterThan(0.05)
                        .isCloseTo(b, org.assertj.core.data.Offset.offset(1e-12 * b));
            }
        }
    }

    @Test
    void aRunResumedOnTheDeviceEndsAsAnUninterruptedOne(@TempDir Path dir) throws Exception {
        try (CudaMamba d = device()) {
            Trainer whole = Trainer.builder(d, adapters(1), options(6).build()).outputDirectory(dir.resolve("w"))
                    .curve(false, 1, 1).build();
            whole.train(data());
            TrainingResult half = Trainer.builder(d, adapters(1), options(6).build())
                    .outputDirectory(dir.resolve("p")).curve(false, 1, 1).stopAfter(3).build().train(data());
            assertThat(half.steps()).isEqualTo(3);
            Trainer rest = Trainer.builder(d, adapters(77), options(6).build()).outputDirectory(dir.resolve("p"))
                    .curve(false, 1, 1).build();
            assertThat(rest.resume(data()).steps()).isEqualTo(6);
            assertThat(bits(rest)).usingRecursiveComparison().isEqualTo(bits(whole));
            assertThat(moments(dir.resolve("p/checkpoint-6"))).usingRecursiveComparison()
                    .isEqualTo(moments(dir.resolve("w/checkpoint-6")));
            assertThat(metrics(dir.resolve("p"), "loss")).isEqualTo(metrics(dir.resolve("w"), "loss"));
        }
    }

    @Test
    void aNonFiniteUpdateStopsTheRunNamingTheTensorAndElementAsTheHostPathDoes(@TempDir Path dir) {
        // a learning rate of 1e38: the first update overflows to ±inf
        TrainingOptions o = TrainingOptions.builder(3, 1e38).build();
        try (CudaMamba d = device(); CudaMamba h = host()) {
            AdapterSet onDevice = adapters(1);
            Trainer td = Trainer.builder(d, onDevice, o).outputDirectory(dir.resolve("d")).curve(false, 1, 1).build();
            Trainer th = Trainer.builder(h, adapters(1), o).outputDirectory(dir.resolve("h")).curve(false, 1, 1).build();
            Throwable fd = catchThrowable(() -> td.train(data()));
            Throwable fh = catchThrowable(() -> th.train(data()));
            assertThat(fd).isInstanceOf(TrainingDivergedException.class).hasMessageContaining("the update made "
                    + "adapter/a0/").hasMessageContaining(" at element ");
            assertThat(fd.getMessage().replace(dir.resolve("d").toString(), ""))
                    .isEqualTo(fh.getMessage().replace(dir.resolve("h").toString(), ""));
            assertThat(((TrainingDivergedException) fd).parameter())
                    .isEqualTo(((TrainingDivergedException) fh).parameter());
            // the tensors in memory are the device's (invalid) ones, as the host path leaves its own
            assertThat(bits(td)).usingRecursiveComparison().isEqualTo(bits(th));
        }
    }

    @Test
    void aNonFiniteGradientIsCaughtBeforeTheUpdateNamingTheTensor(@TempDir Path dir) {
        TrainingOptions o = TrainingOptions.builder(3, 0.01).build();
        try (CudaMamba d = device(); CudaMamba h = host()) {
            AdapterSet sd = adapters(1);
            AdapterSet sh = adapters(1);
            // a huge LoRA B on the head: the logits overflow, the loss and gradients are not finite
            for (AdapterSet s : List.of(sd, sh)) {
                Tensor b = s.acting().getFirst().parameters().entrySet().stream()
                        .filter(e -> e.getKey().contains("head") && e.getKey().contains("lora_B")).findFirst()
                        .orElseThrow().getValue();
                java.util.Arrays.fill(b.data(), 3e38f);
            }
            Throwable fd = catchThrowable(() -> Trainer.builder(d, sd, o).outputDirectory(dir.resolve("d"))
                    .curve(false, 1, 1).build().train(data()));
            Throwable fh = catchThrowable(() -> Trainer.builder(h, sh, o).outputDirectory(dir.resolve("h"))
                    .curve(false, 1, 1).build().train(data()));
            assertThat(fd).isInstanceOf(TrainingDivergedException.class).hasMessageContaining("diverged at step 1");
            assertThat(fd.getMessage().replace(dir.resolve("d").toString(), ""))
                    .isEqualTo(fh.getMessage().replace(dir.resolve("h").toString(), ""));
        }
    }
}
