package org.ssmpeft.runtime.backend;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.bitfit.BiasTerm;
import org.ssmpeft.bitfit.BitFitConfig;
import org.ssmpeft.finetune.FullFineTuningConfig;
import org.ssmpeft.runtime.contract.RandomModels;

/**
 * A parameter delta for a tensor the model does not have fails on every backend, naming the tensor and why, instead
 * of training nothing.
 */
class ParameterDeltaNamesTest {

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    static Stream<String> backends() {
        return Backends.load().available().stream().map(BackendProvider::name);
    }

    private static void refused(String backend, RandomModels.ModelCase m, String method, Record config,
                                String... messageParts) throws Exception {
        SsmModel model = Backends.load().get(backend).create(m.weights());
        try {
            AdapterSet set = new AdapterSet(model.shape()).add(FACTORY.create(new AdapterConfig("deltas", method,
                    LayerSelection.ALL, config), model.shape(), AdapterFactory.seeded(1)));
            assertThatThrownBy(() -> model.forward(m.tokens(), set)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll(messageParts);
            assertThatThrownBy(() -> model.lossAndGradients(m.tokens(), m.labels(), set, Set.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContainingAll(messageParts);
        } finally {
            if (model instanceof AutoCloseable c) {
                c.close();
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void aHeadDeltaOnATiedModelIsRefused(String backend) throws Exception {
        var tied = RandomModels.defaults().getFirst();
        refused(backend, tied, "full-ft", new FullFineTuningConfig(false, true, false),
                "adapter 'deltas' (full-ft) hands a parameter delta for 'lm_head.weight', which this model does not"
                        + " have (its head is tied to backbone.embeddings.weight");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void aConvBiasDeltaOnAModelWithoutConvBiasIsRefused(String backend) throws Exception {
        var noConvBias = RandomModels.random(RandomModels.config(9, 4, 2, 1, 8, 1, 2, false, false, true), 3, 1, 4);
        refused(backend, noConvBias, "bitfit", BitFitConfig.DEFAULT,
                "'backbone.layers.0.mixer.conv1d.bias', which this model does not have (use_conv_bias is false");
    }

    @ParameterizedTest
    @MethodSource("backends")
    void linearBiasDeltasOnAModelWithoutThemAreRefused(String backend) throws Exception {
        refused(backend, RandomModels.defaults().getFirst(), "bitfit",
                new BitFitConfig(List.of(BiasTerm.OUT_PROJ_BIAS)),
                "'backbone.layers.0.mixer.out_proj.bias'", "use_bias is false");
    }
}
