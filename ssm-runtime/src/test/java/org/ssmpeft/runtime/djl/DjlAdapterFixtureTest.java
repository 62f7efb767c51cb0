package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * Every adapter of peft-grads.safetensors, built by its installed provider with the fixture's values copied into its
 * parameters: logits and loss within 1e-4, dL/dθ within 1e-3 relative (max |error| / max |expected|).
 */
class DjlAdapterFixtureTest {

    private static MambaWeights weights;
    private static DjlMamba model;
    private static int[][] tokens;
    private static SafetensorsFile peft;

    @BeforeAll
    static void load() throws Exception {
        DjlFixture.assumeEngine();
        weights = DjlFixture.weights();
        model = new DjlMamba(weights);
        tokens = DjlFixture.tokens();
        peft = DjlFixture.open("peft-grads.safetensors");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
            peft.close();
        }
    }

    /** fixture adapter name, provider, config, adapter parameter name -> fixture tensor name. */
    static Stream<Arguments> adapters() {
        List<Projection> lora = List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ);
        return Stream.of(
                Arguments.of("state_offset_h", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H,
                        StateInit.ZERO), (UnaryOperator<String>) p -> p.replace("state_offset", "h_off")),
                Arguments.of("state_offset_y", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.Y,
                        StateInit.ZERO), (UnaryOperator<String>) p -> p.replace("output_offset", "y_off")),
                Arguments.of("initial_state", "initial-state", new InitialStateConfig(StateInit.ZERO),
                        (UnaryOperator<String>) p -> p.replace("initial_state", "h0")),
                Arguments.of("lora", "lora", new LoraConfig(4, 8.0, 0.0, lora, false),
                        (UnaryOperator<String>) p -> p),
                Arguments.of("prompt_tuning", "prompt", new PromptConfig(5, 0.02),
                        (UnaryOperator<String>) p -> p.replace("prompt_embeddings", "virtual_embeddings")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adapters")
    void logitsLossAndGradientsMatchTheFixture(String fixture, String method, Record config,
                                               UnaryOperator<String> fixtureName) throws Exception {
        AdapterSet set = DjlFixture.single(weights, fixture, method, config);
        Adapter adapter = set.get(fixture);
        for (Map.Entry<String, Tensor> p : adapter.parameters().entrySet()) {
            float[] values = peft.readFloats(fixture + "." + fixtureName.apply(p.getKey()));
            assertThat(values).as(p.getKey()).hasSize(p.getValue().size());
            System.arraycopy(values, 0, p.getValue().data(), 0, values.length);
        }

        var g = model.lossAndGradients(tokens, tokens, set, Set.of());

        float[] expectedLogits = peft.readFloats(fixture + ".logits");
        double logitsErr = Fixtures.maxAbsDiff(g.logits().values(), expectedLogits);
        float expectedLoss = peft.readFloats(fixture + ".loss")[0];
        System.out.printf("djl %-15s logits max abs error %.3e, loss abs error %.3e%n", fixture, logitsErr,
                Math.abs(g.loss() - expectedLoss));
        assertThat(logitsErr).isLessThan(DjlFixture.ABS_TOL);
        assertThat((double) g.loss()).isCloseTo(expectedLoss, Offset.offset(DjlFixture.ABS_TOL));
        // forward() agrees with the gradient pass
        assertThat(Fixtures.maxAbsDiff(model.forward(tokens, set).values(), expectedLogits))
                .isLessThan(DjlFixture.ABS_TOL);

        Map<String, Tensor> grads = g.adapterGradients().get(fixture);
        assertThat(grads.keySet()).containsExactlyInAnyOrderElementsOf(adapter.parameters().keySet());
        double worst = 0;
        for (Map.Entry<String, Tensor> e : grads.entrySet()) {
            float[] expected = peft.readFloats(fixture + "." + fixtureName.apply(e.getKey()) + ".grad");
            double rel = DjlFixture.relativeError(e.getValue().data(), expected);
            worst = Math.max(worst, rel);
            assertThat(rel).as("relative error of d loss / d " + e.getKey()).isLessThan(DjlFixture.GRAD_REL_TOL);
        }
        System.out.printf("djl %-15s gradients worst relative error %.3e over %d tensors%n", fixture, worst,
                grads.size());
        assertThat(g.baseGradients()).isEmpty();
    }
}
