package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.cpu.CpuMamba;

/**
 * Accumulating micro-batches equals one batch of all their rows. The loss is a mean over targets, so micro-batch i
 * (n_i targets, mean loss L_i, gradient ∇_i) enters as n_i/Σn: Σ n_i·∇_i / Σ n_i is the gradient of the mean over
 * all Σn targets. The micro-batches here have 16 and 8 targets: averaging their means (÷ 2) would be wrong.
 */
class GradientAccumulationTest {

    private static final CpuMamba MODEL = TinyMamba.model(5);

    /** Rows 0-1 have 8 targets each (labels from position 2 on), rows 2-3 have 4 each (from position 6 on). */
    private static Batch rows(int from, int to) {
        int[][] pool = TinyMamba.data().batch(3, 0, 0).tokens();
        int[][] more = TinyMamba.data().batch(3, 0, 1).tokens();
        int[][] all = {pool[0], pool[1], more[0], more[1]};
        int[][] tokens = new int[to - from][];
        int[][] labels = new int[to - from][];
        for (int r = from; r < to; r++) {
            tokens[r - from] = all[r];
            labels[r - from] = all[r].clone();
            java.util.Arrays.fill(labels[r - from], 0, r < 2 ? 2 : 6, -100);
        }
        return new Batch(tokens, labels);
    }

    @Test
    void twoMicroBatchesEqualOneBatchOfTheirRows() {
        AdapterSet adapters = TinyMamba.adapters(1);
        var trainer = Trainer.builder(MODEL, adapters, TinyMamba.options(1).build())
                .outputDirectory(Path.of("unused")).build();
        List<TrainableParameter> params = trainer.parameters();
        Batch first = rows(0, 2);
        Batch second = rows(2, 4);
        Batch all = rows(0, 4);

        var acc = new GradientAccumulator(params);
        LossAndGradients g1 = MODEL.lossAndGradients(first.tokens(), first.labels(), adapters, Set.of());
        LossAndGradients g2 = MODEL.lossAndGradients(second.tokens(), second.labels(), adapters, Set.of());
        assertThat(g1.targets()).isEqualTo(16);
        assertThat(g2.targets()).isEqualTo(8);
        acc.add(g1);
        acc.add(g2);
        LossAndGradients big = MODEL.lossAndGradients(all.tokens(), all.labels(), adapters, Set.of());

        assertThat(acc.targets()).isEqualTo(big.targets());
        assertThat(acc.loss()).isCloseTo(big.loss(), within(1e-6));
        Map<String, float[]> grads = acc.gradients();
        for (TrainableParameter p : params) {
            float[] expected = p.gradientIn(big).data();
            float[] actual = grads.get(p.key());
            double scale = 0;
            double err = 0;
            for (int i = 0; i < expected.length; i++) {
                scale = Math.max(scale, Math.abs(expected[i]));
                err = Math.max(err, Math.abs(expected[i] - actual[i]));
            }
            assertThat(scale).as(p.key()).isGreaterThan(0);
            assertThat(err / scale).as("relative error of " + p.key()).isLessThan(1e-5);
        }
    }

    @Test
    void oneMicroBatchIsPassedThroughBitForBit() {
        AdapterSet adapters = TinyMamba.adapters(1);
        var trainer = Trainer.builder(MODEL, adapters, TinyMamba.options(1).build())
                .outputDirectory(Path.of("unused")).build();
        Batch b = rows(0, 4);
        LossAndGradients g = MODEL.lossAndGradients(b.tokens(), b.labels(), adapters, Set.of());
        var acc = new GradientAccumulator(trainer.parameters());
        acc.add(g);
        for (TrainableParameter p : trainer.parameters()) {
            assertThat(acc.gradients().get(p.key())).as(p.key()).containsExactly(p.gradientIn(g).data());
        }
    }

    @Test
    void aTrainerStepWithAccumulationEqualsAStepOnTheWholeBatch(@TempDir Path dir) {
        AdapterSet accumulated = TinyMamba.adapters(1);
        AdapterSet whole = TinyMamba.adapters(1);
        var options = TrainingOptions.builder(1, 1e-3).maxGradNorm(0);
        Trainer.builder(MODEL, accumulated, options.accumulationSteps(2).build()).outputDirectory(dir.resolve("a"))
                .curve(false, 16, 16).build().train(BatchSource.of(List.of(rows(0, 2), rows(2, 4))));
        Trainer t = Trainer.builder(MODEL, whole, options.accumulationSteps(1).build())
                .outputDirectory(dir.resolve("b")).curve(false, 16, 16).build();
        t.train(BatchSource.of(List.of(rows(0, 4))));
        var acc = Trainer.builder(MODEL, accumulated, options.build()).outputDirectory(dir.resolve("c")).build();
        for (int i = 0; i < t.parameters().size(); i++) {
            assertThat(acc.parameters().get(i).value().data()).as(t.parameters().get(i).key())
                    .containsExactly(t.parameters().get(i).value().data(), within(1e-6f));
        }
    }
}
