package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * The DJL model without adapters against transformers on mamba-tiny (B = 2, L = 24, V = 256, d = 64, D = 128,
 * N = 16): logits, residual stream, final states, decoding, loss and full fine-tuning gradients.
 */
class DjlMambaFixtureTest {

    private static MambaWeights weights;
    private static DjlMamba model;
    private static int[][] tokens;
    private static AdapterSet none;
    private static SafetensorsFile reference;

    @BeforeAll
    static void load() throws Exception {
        DjlFixture.assumeEngine();
        weights = DjlFixture.weights();
        model = new DjlMamba(weights);
        tokens = DjlFixture.tokens();
        none = new AdapterSet(weights.config().toShape());
        reference = DjlFixture.open("reference.safetensors");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
            reference.close();
        }
    }

    private static double report(String what, float[] actual, String refName) throws Exception {
        double err = Fixtures.maxAbsDiff(actual, reference.readFloats(refName));
        System.out.printf("djl mamba-tiny %-22s max abs error %.3e%n", what, err);
        return err;
    }

    @Test
    void fullForwardMatchesLogitsHiddenStatesAndFinalStates() throws Exception {
        HostState cache = model.newState(tokens.length);
        var out = model.forward(tokens, none, cache);
        var hidden = model.hiddenStates(tokens, none);

        assertThat(report("logits", out.values(), "logits")).isLessThan(DjlFixture.ABS_TOL);
        assertThat(hidden).hasSize(weights.config().layers() + 1);
        for (int j = 0; j < hidden.size(); j++) {
            assertThat(report("hidden_states." + j, hidden.get(j), "hidden_states." + j))
                    .isLessThan(DjlFixture.ABS_TOL);
        }
        for (int i = 0; i < weights.config().layers(); i++) {
            assertThat(report("ssm_state.layers." + i, cache.ssmState(i), "ssm_state.layers." + i))
                    .isLessThan(DjlFixture.ABS_TOL);
            assertThat(report("conv_state.layers." + i, cache.convState(i), "conv_state.layers." + i))
                    .isLessThan(DjlFixture.ABS_TOL);
        }
    }

    @Test
    void stepByStepDecodingMatchesStepLogits() throws Exception {
        int batch = tokens.length;
        int len = tokens[0].length;
        int v = weights.config().vocabSize();
        HostState cache = model.newState(batch);
        float[] stepLogits = new float[batch * len * v];
        for (int t = 0; t < len; t++) {
            int[] column = new int[batch];
            for (int b = 0; b < batch; b++) {
                column[b] = tokens[b][t];
            }
            float[] logits = model.step(column, none, cache);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(logits, b * v, stepLogits, (b * len + t) * v, v);
            }
        }
        assertThat(cache.position()).isEqualTo(len);
        assertThat(report("step_logits", stepLogits, "step_logits")).isLessThan(DjlFixture.ABS_TOL);
        for (int i = 0; i < weights.config().layers(); i++) {
            assertThat(report("step ssm_state." + i, cache.ssmState(i), "ssm_state.layers." + i))
                    .isLessThan(DjlFixture.ABS_TOL);
            assertThat(report("step conv_state." + i, cache.convState(i), "conv_state.layers." + i))
                    .isLessThan(DjlFixture.ABS_TOL);
        }
    }

    @Test
    void lossAndFullFineTuningGradientsMatch() throws Exception {
        Set<String> all = new LinkedHashSet<>(model.parameterNames());
        var g = model.lossAndGradients(tokens, tokens, none, all);

        float expectedLoss = reference.readFloats("loss")[0];
        System.out.printf("djl mamba-tiny %-22s abs error %.3e (%.6f)%n", "loss", Math.abs(g.loss() - expectedLoss),
                g.loss());
        assertThat((double) g.loss()).isCloseTo(expectedLoss, org.assertj.core.data.Offset.offset(DjlFixture.ABS_TOL));
        assertThat(report("logits (gradient pass)", g.logits().values(), "logits")).isLessThan(DjlFixture.ABS_TOL);
        assertThat(g.adapterGradients()).isEmpty();
        assertThat(g.baseGradients().keySet()).containsExactlyInAnyOrderElementsOf(all);
        try (SafetensorsFile grads = DjlFixture.open("full-ft-grads.safetensors")) {
            assertThat((double) g.loss()).isCloseTo(grads.readFloats("loss")[0],
                    org.assertj.core.data.Offset.offset(DjlFixture.ABS_TOL));
            double worst = 0;
            for (String name : all) {
                float[] expected = grads.readFloats(name + ".grad");
                assertThat(g.baseGradients().get(name).shape()).containsExactly(
                        java.util.Arrays.stream(grads.info(name + ".grad").shape()).mapToInt(Math::toIntExact)
                                .toArray());
                double rel = DjlFixture.relativeError(g.baseGradients().get(name).data(), expected);
                worst = Math.max(worst, rel);
                assertThat(rel).as("relative error of d loss / d " + name).isLessThan(DjlFixture.GRAD_REL_TOL);
            }
            System.out.printf("djl mamba-tiny %-22s worst relative error %.3e over %d tensors%n", "full-ft grads",
                    worst, all.size());
        }
    }
}
