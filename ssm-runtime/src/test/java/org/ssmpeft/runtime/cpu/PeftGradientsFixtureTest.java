package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * Every adapter of the fixture's peft-grads.safetensors (transformers 5.17 / torch 2.11, mamba-tiny, B = 2, T = 24),
 * built through the real providers with the fixture's values copied in: logits and loss within 1e-4 absolute,
 * gradients of every adapter tensor within 1e-3 relative (max-abs error / max-abs value).
 */
class PeftGradientsFixtureTest {

    private static final double LOGITS_TOL = 1e-4;
    private static final double GRAD_REL_TOL = 1e-3;

    private static MambaWeights weights;
    private static SafetensorsFile peft;
    private static int[][] tokens;
    private static AdapterFactory factory;

    /**
     * One fixture adapter: its key prefix, the config that makes it, and how a fixture key maps to the adapter's
     * parameter names.
     */
    record Case(String fixture, String method, Record config, Map<String, String> parameterToFixture) {
        @Override
        public String toString() {
            return fixture;
        }
    }

    @BeforeAll
    static void load() throws Exception {
        weights = MambaCheckpoint.load(Fixtures.mambaTiny());
        peft = SafetensorsFile.open(Fixtures.mambaTiny().resolve("peft-grads.safetensors"));
        try (var ref = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"))) {
            tokens = Fixtures.inputIds(ref);
        }
        factory = new AdapterFactory(PeftMethods.load());
    }

    @AfterAll
    static void close() {
        peft.close();
    }

    private static Map<String, String> perLayer(String parameter, IntFunction<String> fixtureKey) {
        return Map.of("layers.0." + parameter, fixtureKey.apply(0), "layers.1." + parameter, fixtureKey.apply(1));
    }

    static Stream<Case> cases() {
        var lora = new java.util.LinkedHashMap<String, String>();
        for (int l = 0; l < 2; l++) {
            for (String proj : List.of("in_proj", "x_proj", "dt_proj", "out_proj")) {
                for (String part : List.of("lora_A", "lora_B")) {
                    String name = "layers." + l + "." + proj + "." + part;
                    lora.put(name, "lora." + name);
                }
            }
        }
        return Stream.of(
                new Case("state_offset_h", "state-offset",
                        new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO),
                        perLayer("state_offset", l -> "state_offset_h.layers." + l + ".h_off")),
                new Case("state_offset_y", "state-offset",
                        new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO),
                        perLayer("output_offset", l -> "state_offset_y.layers." + l + ".y_off")),
                new Case("initial_state", "initial-state", new InitialStateConfig(StateInit.ZERO),
                        perLayer("initial_state", l -> "initial_state.layers." + l + ".h0")),
                new Case("lora", "lora", new LoraConfig(4, 8.0, 0.0,
                        List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ), false),
                        lora),
                new Case("prompt_tuning", "prompt", new PromptConfig(5, 0.02),
                        Map.of("prompt_embeddings", "prompt_tuning.virtual_embeddings")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void logitsLossAndGradientsMatchTheFixture(Case c) throws Exception {
        var shape = weights.config().toShape();
        Adapter adapter = factory.create(new AdapterConfig(c.fixture().replace('_', '-'), c.method(),
                LayerSelection.ALL, c.config()), shape, AdapterFactory.seeded(1));
        assertThat(adapter.parameters().keySet()).containsExactlyInAnyOrderElementsOf(c.parameterToFixture().keySet());
        c.parameterToFixture().forEach((param, key) -> {
            float[] values = read(key);
            assertThat(values).hasSize(adapter.parameter(param).size());
            System.arraycopy(values, 0, adapter.parameter(param).data(), 0, values.length);
        });
        var set = new AdapterSet(shape).add(adapter);
        var model = new CpuMamba(weights);

        var result = model.lossAndGradients(tokens, tokens, set, Set.of());

        float[] expectedLogits = read(c.fixture() + ".logits");
        double logitsErr = Fixtures.maxAbsDiff(result.logits().values(), expectedLogits);
        double lossErr = Math.abs(result.loss() - read(c.fixture() + ".loss")[0]);
        System.out.printf("mamba-tiny %-15s logits max abs error %.3e, loss abs error %.3e%n", c.fixture(),
                logitsErr, lossErr);
        assertThat(logitsErr).isLessThan(LOGITS_TOL);
        assertThat(lossErr).isLessThan(LOGITS_TOL);
        assertThat(result.adapterGradients()).containsOnlyKeys(adapter.name());
        assertThat(result.baseGradients()).isEmpty();
        Map<String, Tensor> grads = result.adapterGradients().get(adapter.name());
        double worst = 0;
        for (var e : c.parameterToFixture().entrySet()) {
            float[] expected = read(e.getValue() + ".grad");
            Tensor actual = grads.get(e.getKey());
            assertThat(actual.shape()).isEqualTo(adapter.parameter(e.getKey()).shape());
            double rel = Fixtures.relativeError(actual.data(), expected);
            worst = Math.max(worst, rel);
            assertThat(rel).as("relative error of d loss / d %s", e.getKey()).isLessThan(GRAD_REL_TOL);
        }
        System.out.printf("mamba-tiny %-15s gradients max relative error %.3e (%d tensors)%n", c.fixture(), worst,
                c.parameterToFixture().size());
    }

    private static float[] read(String key) {
        try {
            return peft.readFloats(key);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
