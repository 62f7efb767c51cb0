package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * Full fine-tuning against the fixture's full-ft-grads.safetensors (transformers' own forward and autograd): the loss
 * within 1e-4 and dL/dW of every stored weight within 1e-3 relative; the embedding's includes the tied head's part.
 */
class FullFineTuningFixtureTest {

    @Test
    void everyBaseWeightGradientMatches() throws Exception {
        MambaWeights weights = MambaCheckpoint.load(Fixtures.mambaTiny());
        int[][] tokens;
        try (var ref = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"))) {
            tokens = Fixtures.inputIds(ref);
        }
        var model = new CpuMamba(weights);
        var names = weights.parameters().keySet();

        var result = model.lossAndGradients(tokens, tokens, model.noAdapters(), names);

        try (var ft = SafetensorsFile.open(Fixtures.mambaTiny().resolve("full-ft-grads.safetensors"))) {
            double lossErr = Math.abs(result.loss() - ft.readFloats("loss")[0]);
            System.out.printf("mamba-tiny full-ft loss abs error %.3e%n", lossErr);
            assertThat(lossErr).isLessThan(1e-4);
            assertThat(result.baseGradients().keySet()).containsExactlyElementsOf(names);
            double worst = 0;
            for (String n : names) {
                double rel = Fixtures.relativeError(result.baseGradients().get(n).data(), ft.readFloats(n + ".grad"));
                System.out.printf("mamba-tiny full-ft %-45s relative error %.3e%n", n, rel);
                worst = Math.max(worst, rel);
                assertThat(rel).as("relative error of d loss / d %s", n).isLessThan(1e-3);
            }
            System.out.printf("mamba-tiny full-ft gradients max relative error %.3e (%d tensors)%n", worst,
                    names.size());
        }
    }
}
