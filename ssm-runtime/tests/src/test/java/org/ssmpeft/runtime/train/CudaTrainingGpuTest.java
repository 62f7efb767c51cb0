package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.train.TrainingResult.StopReason;

/**
 * The trainer, unchanged, on the {@code cuda} backend (the GPU host; skipped where no device answers): a run on cuda
 * follows the same run on cpu, a run stopped and resumed on cuda ends bit for bit as an uninterrupted one, and a
 * non-finite value stops the run keeping the last checkpoint.
 */
@Tag("gpu")
class CudaTrainingGpuTest {

    private static SsmModel cuda;
    private static final SsmModel CPU = TinyMamba.model(5);

    @BeforeAll
    static void openCuda() {
        BackendProvider p = Backends.load().get("cuda");
        assumeTrue(p.isAvailable(), () -> "cuda: " + p.unavailableReason().orElse("?"));
        cuda = p.create(TinyMamba.weights(5));
        System.out.println("GPU: training on " + cuda.backend());
    }

    @AfterAll
    static void close() {
        if (cuda instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static Trainer.Builder trainer(SsmModel model, AdapterSet adapters, TrainingOptions options, Path dir) {
        return Trainer.builder(model, adapters, options).outputDirectory(dir);
    }

    @Test
    void aRunOnCudaFollowsTheSameRunOnCpu(@TempDir Path dir) throws IOException {
        AdapterSet onGpu = TinyMamba.adapters(1);
        AdapterSet onCpu = TinyMamba.adapters(1);
        Trainer g = trainer(cuda, onGpu, TinyMamba.options(6).build(), dir.resolve("cuda")).build();
        Trainer c = trainer(CPU, onCpu, TinyMamba.options(6).build(), dir.resolve("cpu")).build();
        g.train(TinyMamba.data());
        c.train(TinyMamba.data());
        List<Double> lg = losses(dir.resolve("cuda"));
        List<Double> lc = losses(dir.resolve("cpu"));
        assertThat(lg).hasSize(6).hasSameSizeAs(lc);
        for (int i = 0; i < lc.size(); i++) {
            assertThat(lg.get(i)).as("loss at step %d", i + 1).isCloseTo(lc.get(i),
                    org.assertj.core.data.Offset.offset(1e-4 * Math.max(1, Math.abs(lc.get(i)))));
        }
        for (int i = 0; i < c.parameters().size(); i++) {
            float[] a = g.parameters().get(i).value().data();
            float[] b = c.parameters().get(i).value().data();
            assertThat(org.ssmpeft.runtime.fixtures.Fixtures.relativeError(a, b)).as(c.parameters().get(i).key())
                    .isLessThan(1e-3);
        }
    }

    @Test
    void aRunStoppedAndResumedOnCudaEndsBitForBitAsAnUninterruptedOne(@TempDir Path dir) throws IOException {
        Trainer whole = trainer(cuda, TinyMamba.adapters(1), TinyMamba.options(8).checkpointEvery(4).build(),
                dir.resolve("whole")).build();
        whole.train(TinyMamba.data());
        TrainingResult half = trainer(cuda, TinyMamba.adapters(1), TinyMamba.options(8).checkpointEvery(4).build(),
                dir.resolve("parts")).stopAfter(4).build().train(TinyMamba.data());
        assertThat(half.reason()).isEqualTo(StopReason.STOP_AFTER);
        Trainer rest = trainer(cuda, TinyMamba.adapters(99), TinyMamba.options(8).checkpointEvery(4).build(),
                dir.resolve("parts")).build();
        TrainingResult end = rest.resume(TinyMamba.data());
        assertThat(end.steps()).isEqualTo(8);
        assertThat(TinyMamba.bits(rest.parameters())).usingRecursiveComparison()
                .isEqualTo(TinyMamba.bits(whole.parameters()));
        TrainerTest.assertSameTensors(TrainingCheckpoint.open(dir.resolve("parts/checkpoint-8")).optimizerState(),
                TrainingCheckpoint.open(dir.resolve("whole/checkpoint-8")).optimizerState());
        assertThat(losses(dir.resolve("parts"))).isEqualTo(losses(dir.resolve("whole")));
    }

    /**
     * A learning rate of 1e38 (after the schedule's warm-up step at 0) drives the values on the device to overflow:
     * the run stops at the first non-finite update or loss, naming the step, and keeps the checkpoint before it,
     * whose tensors are finite. (The device keeps the trainables, so a value written into the host tensor mid-run
     * would not reach it: the overflow has to happen where the run computes.)
     */
    @Test
    void aNonFiniteValueOnTheDeviceStopsTheRunAndKeepsTheLastCheckpoint(@TempDir Path dir) {
        Trainer t = trainer(cuda, TinyMamba.adapters(1), TinyMamba.options(8).learningRate(1e38).checkpointEvery(1)
                .build(), dir).build();
        assertThatThrownBy(() -> t.train(TinyMamba.data())).isInstanceOfSatisfying(TrainingDivergedException.class,
                e -> {
                    assertThat(e.step()).isBetween(2, 4);
                    assertThat(e.getMessage()).contains("step " + e.step() + " of 8");
                    assertThat(e.getMessage()).containsAnyOf("NaN", "Infinity");
                    Path last = dir.resolve("checkpoint-" + (e.step() - 1));
                    assertThat(e.lastGoodCheckpoint()).contains(last);
                    for (Map.Entry<String, Tensor> x : TrainingCheckpoint.open(last).trainable().entrySet()) {
                        for (float v : x.getValue().data()) {
                            assertThat(Float.isFinite(v)).as("%s in %s", x.getKey(), last).isTrue();
                        }
                    }
                });
    }

    private static List<Double> losses(Path dir) throws IOException {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<Double> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve(Trainer.METRICS_FILE))) {
            var n = json.readTree(line);
            if (n.path("type").asText().equals("step")) {
                out.add(n.path("loss").asDouble());
            }
        }
        return out;
    }
}
