package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * A hook kind the framework does not have, written by a "plugin author" as NDArray code only: a per-layer, per-channel
 * gain on the SSM output, {@code y ← y ⊙ (1 + g) + silu(z) ⊙ b}. No backward pass is written; autograd trains it.
 */
class DjlHookTest {

    /** The plugin's config (nothing to configure). */
    record GainConfig() {
    }

    /** The plugin's adapter: it feeds no built-in hook, only {@link DjlHook}. */
    static final class GainAdapter extends Adapter implements DjlHook {
        GainAdapter(AdapterContext<GainConfig> context) {
            super(context, specs(context.shape()));
        }

        // ParameterSpec needs a built-in hook kind for its bookkeeping; output offset is the nearest one.
        private static List<ParameterSpec> specs(ModelShape shape) {
            List<ParameterSpec> specs = new ArrayList<>();
            for (int l = 0; l < shape.layers(); l++) {
                specs.add(ParameterSpec.perLayer(l, "gain", new Initializer.Zeros(), HookKind.OUTPUT_OFFSET, false,
                        shape.dInner()));
                specs.add(ParameterSpec.perLayer(l, "gated_bias", new Initializer.Zeros(), HookKind.OUTPUT_OFFSET,
                        false, shape.dInner()));
            }
            return specs;
        }

        @Override
        public NDArray ssmOutput(int layer, NDArray y, Site site) {
            NDArray gain = site.parameter(parameter("layers." + layer + ".gain"));
            NDArray bias = site.parameter(parameter("layers." + layer + ".gated_bias"));
            NDArray z = site.gate();
            return y.mul(gain.add(site.constant(1f))).add(z.mul(ai.djl.nn.Activation.sigmoid(z)).mul(bias));
        }
    }

    private static MambaWeights weights;
    private static DjlMamba model;
    private static int[][] tokens;

    @BeforeAll
    static void load() throws Exception {
        DjlFixture.assumeEngine();
        weights = DjlFixture.weights();
        model = new DjlMamba(weights);
        tokens = DjlFixture.tokens();
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    private static AdapterSet withGain() {
        ModelShape shape = weights.config().toShape();
        GainAdapter gain = new GainAdapter(new AdapterContext<>("gain", "gain", new GainConfig(), shape,
                LayerSelection.ALL));
        gain.initialize(AdapterFactory.seeded(1));
        return new AdapterSet(shape).add(gain);
    }

    @Test
    void aZeroGainLeavesTheModelUnchanged() {
        AdapterSet none = new AdapterSet(weights.config().toShape());
        assertThat(Fixtures.maxAbsDiff(model.forward(tokens, withGain()).values(), model.forward(tokens, none).values()))
                .isEqualTo(0.0);
    }

    @Test
    void anAdapterWithOnlyTheNewHookTrainsByAutograd() {
        AdapterSet set = withGain();
        Adapter gain = set.get("gain");
        float lr = 0.5f;
        List<Double> losses = new ArrayList<>();
        for (int step = 0; step < 6; step++) {
            var g = model.lossAndGradients(tokens, tokens, set, Set.of());
            losses.add(g.loss());
            Map<String, Tensor> grads = g.adapterGradients().get("gain");
            assertThat(grads.keySet()).containsExactlyInAnyOrderElementsOf(gain.parameters().keySet());
            // plain gradient descent on the adapter's own tensors
            grads.forEach((name, grad) -> {
                float[] p = gain.parameter(name).data();
                for (int i = 0; i < p.length; i++) {
                    p[i] -= lr * grad.data()[i];
                }
            });
        }
        System.out.println("djl DjlHook gain adapter, loss per step: " + losses);
        for (int i = 1; i < losses.size(); i++) {
            assertThat(losses.get(i)).as("loss after step " + i + " of " + losses).isLessThan(losses.get(i - 1));
        }
        assertThat(losses.getLast()).isLessThan(losses.getFirst() - 0.01);
    }
}
