package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The hooked forward in its other uses: decoding through {@code step} with every hook acting equals the full forward;
 * adapters that start as the identity leave the logits bit for bit; the chunked scan backward equals one chunk.
 */
class HookedDecodingTest {

    private static final MambaConfig CONFIG = RandomMamba.config(17, 16, 4, 3);
    private static final ModelShape SHAPE = CONFIG.toShape();
    private static final MambaWeights WEIGHTS = RandomMamba.weights(CONFIG, 31);
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private static Adapter adapter(String name, String method, Record config, long seed) {
        Adapter a = FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), SHAPE,
                AdapterFactory.seeded(seed));
        return RandomMamba.randomize(a, 0.2, seed);
    }

    /**
     * Prompt, prefix (MLP), initial state, both offsets, two additional-scans (one on some layers), LoRA on blocks and
     * the head, and parameter deltas.
     */
    private static AdapterSet everyHook() {
        Map<String, Tensor> named = WEIGHTS.parameters();
        var deltas = BaseDeltaAdapter.of("bitfit", SHAPE, named, List.of(MambaWeights.layerName(1, "mixer.D"),
                MambaWeights.layerName(2, "mixer.A_log"), MambaWeights.EMBEDDING));
        RandomMamba.randomize(deltas, 0.05, 40);
        return new AdapterSet(SHAPE)
                .add(adapter("prompt", "prompt", new PromptConfig(3, 0.02), 41))
                .add(adapter("prefix", "prefix", new PrefixConfig(2, true, 8, 0.02), 42))
                .add(adapter("h0", "initial-state", new InitialStateConfig(StateInit.ZERO), 43))
                .add(adapter("h", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO),
                        44))
                .add(adapter("y", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO),
                        45))
                .add(adapter("lora", "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z,
                        Projection.X_PROJ_C, Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), false), 46))
                .add(adapter("scan", "additional-scan", new AdditionalScanConfig(3,
                        AdditionalScanConfig.AInit.LOG_RANGE), 47))
                .add(RandomMamba.randomize(FACTORY.create(new AdapterConfig("scan-2", "additional-scan",
                        LayerSelection.of(0, 2), new AdditionalScanConfig(2, AdditionalScanConfig.AInit.REFERENCE)),
                        SHAPE, AdapterFactory.seeded(48)), 0.2, 48))
                .add(deltas);
    }

    @Test
    void decodingThroughStepWithEveryHookEqualsTheFullForward() {
        var model = new CpuMamba(WEIGHTS);
        AdapterSet set = everyHook();
        int[][] tokens = RandomMamba.tokens(2, 9, CONFIG.vocabSize(), 3);
        var full = model.forward(tokens, set, model.newState(2));
        assertThat(full.virtualTokens()).isEqualTo(3);
        assertThat(full.length()).isEqualTo(3 + 9);

        var cache = model.newState(2);
        double worst = 0;
        for (int t = 0; t < 9; t++) {
            float[] step = model.step(new int[] {tokens[0][t], tokens[1][t]}, set, cache);
            for (int b = 0; b < 2; b++) {
                float[] expected = full.at(b, 3 + t);
                float[] actual = java.util.Arrays.copyOfRange(step, b * CONFIG.vocabSize(),
                        (b + 1) * CONFIG.vocabSize());
                worst = Math.max(worst, Fixtures.maxAbsDiff(actual, expected));
            }
        }
        System.out.printf("hooked decode vs full forward: max abs difference %.3e%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-6);
    }

    @Test
    void identityStartAdaptersLeaveTheBaseLogitsBitForBit() {
        var model = new CpuMamba(WEIGHTS);
        int[][] tokens = RandomMamba.tokens(2, 7, CONFIG.vocabSize(), 4);
        float[] base = model.forward(tokens).logits();
        var set = new AdapterSet(SHAPE)
                .add(FACTORY.create(new AdapterConfig("h", "state-offset", LayerSelection.ALL,
                        StateOffsetConfig.DEFAULT), SHAPE, AdapterFactory.seeded(1)))
                .add(FACTORY.create(new AdapterConfig("h0", "initial-state", LayerSelection.ALL,
                        new InitialStateConfig(StateInit.ZERO)), SHAPE, AdapterFactory.seeded(2)))
                .add(FACTORY.create(new AdapterConfig("scan", "additional-scan", LayerSelection.ALL,
                        AdditionalScanConfig.DEFAULT), SHAPE, AdapterFactory.seeded(3)));
        assertThat(model.forward(tokens, model.noAdapters(), model.newState(2)).values()).isEqualTo(base);
        assertThat(model.forward(tokens, set, model.newState(2)).values()).isEqualTo(base);
    }

    @Test
    void chunkedScanBackwardGivesTheGradientsOfOneChunk() {
        AdapterSet set = everyHook();
        int[][] tokens = RandomMamba.tokens(2, 20, CONFIG.vocabSize(), 5);
        var pool = new ForkJoinPool(2);
        try {
            var chunked = new CpuMamba(WEIGHTS, pool, 4);  // 3 + 2 + 20 = 25 scan steps: 7 chunks, the last partial
            var whole = new CpuMamba(WEIGHTS, pool, 1000); // one chunk
            Set<String> all = WEIGHTS.parameters().keySet();
            var a = chunked.lossAndGradients(tokens, tokens, set, all);
            var b = whole.lossAndGradients(tokens, tokens, set, all);
            assertThat(a.loss()).isEqualTo(b.loss());
            assertThat(a.adapterGradients().keySet()).isEqualTo(b.adapterGradients().keySet());
            a.adapterGradients().forEach((adapter, grads) -> grads.forEach((n, g) ->
                    assertThat(g.data()).as("%s/%s", adapter, n)
                            .isEqualTo(b.adapterGradient(adapter, n).data())));
            a.baseGradients().forEach((n, g) ->
                    assertThat(g.data()).as(n).isEqualTo(b.baseGradients().get(n).data()));
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void singleThreadedAndParallelBackwardAgree() {
        AdapterSet set = everyHook();
        int[][] tokens = RandomMamba.tokens(3, 11, CONFIG.vocabSize(), 6);
        var pool = new ForkJoinPool(1);
        try {
            var serial = new CpuMamba(WEIGHTS, pool).lossAndGradients(tokens, tokens, set,
                    WEIGHTS.parameters().keySet());
            var parallel = new CpuMamba(WEIGHTS).lossAndGradients(tokens, tokens, set, WEIGHTS.parameters().keySet());
            assertThat(serial.loss()).isEqualTo(parallel.loss());
            serial.baseGradients().forEach((n, g) ->
                    assertThat(g.data()).as(n).isEqualTo(parallel.baseGradients().get(n).data()));
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void unknownBaseParameterNamesAreRefusedWithTheNamingScheme() {
        var model = new CpuMamba(WEIGHTS);
        int[][] tokens = RandomMamba.tokens(1, 4, CONFIG.vocabSize(), 7);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.lossAndGradients(tokens, tokens,
                model.noAdapters(), Set.of("backbone.layers.0.mixer.d")))
                .hasMessageContaining("unknown base parameter 'backbone.layers.0.mixer.d'")
                .hasMessageContaining("mixer.D");
    }
}
