package com.example.lowrank;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.LossAndGradients;

/**
 * "Trainable from a config file": the YAML file names the plugin's method, the framework's reader and factory build
 * the adapter, and plain gradient descent on the runtime's loss and gradients lowers the loss of a tiny batch.
 */
class TrainFromConfigFileTest {

    private static final double LEARNING_RATE = 0.5;
    private static final int STEPS = 15;

    @Test
    void aConfigFileNamingThePluginTrainsWithGradientDescent() throws Exception {
        Path file = Path.of(getClass().getResource("/state-offset-lowrank.yaml").toURI());
        List<AdapterConfig> configs = new AdapterConfigReader(PeftMethods.load()).read(file);
        assertThat(configs).singleElement().satisfies(c -> {
            assertThat(c.method()).isEqualTo("state-offset-lowrank");
            assertThat(c.config()).isEqualTo(new LowRankStateOffsetConfig(2));
        });
        AdapterSet set = TinyMamba.FACTORY.create(configs, TinyMamba.CONFIG.toShape(), 1);
        Adapter adapter = set.acting().getFirst();
        int[][] tokens = TinyMamba.tokens(4, 12, 21);

        List<Double> losses = new ArrayList<>();
        try (Backend m = Backend.open("cpu")) {
            double base = m.model().loss(tokens, tokens, m.model().noAdapters());
            for (int step = 0; step < STEPS; step++) {
                LossAndGradients g = m.model().lossAndGradients(tokens, tokens, set, Set.of());
                losses.add(g.loss());
                for (Map.Entry<String, Tensor> p : adapter.parameters().entrySet()) {
                    float[] theta = p.getValue().data();
                    float[] grad = g.adapterGradient(adapter.name(), p.getKey()).data();
                    for (int i = 0; i < theta.length; i++) {
                        theta[i] -= (float) (LEARNING_RATE * grad[i]);
                    }
                }
            }
            losses.add(m.model().loss(tokens, tokens, set));
            System.out.println("loss by step: " + losses);
            assertThat(losses.getFirst()).as("identity start").isCloseTo(base, within(1e-6));
        }
        assertThat(losses.getLast()).as("loss after %d steps, %s", STEPS, losses)
                .isLessThan(losses.getFirst() - 0.05);
    }
}
