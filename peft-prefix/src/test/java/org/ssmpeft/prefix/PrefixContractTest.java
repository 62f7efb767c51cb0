package org.ssmpeft.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

class PrefixContractTest extends PeftMethodContract {

    private static final PrefixConfig MLP = new PrefixConfig(3, true, 6, 0.5);

    @Override
    protected String methodName() {
        return "prefix";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(MLP, new PrefixConfig(1, false, 1, 0.1));
    }

    /** Without MLP Ls·n·W; with it n·W + H·W + H + Ls·W·H + Ls·W, W = mixer input width. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (PrefixConfig) config;
        long n = c.numVirtualTokens();
        long w = s.mixerInputWidth();
        long h = c.encoderHiddenSize();
        return c.reparameterize() ? n * w + h * w + h + layers * w * h + layers * w : layers * n * w;
    }

    @Test
    void tokensAreAsWideAsTheMixerInput() {
        var hook = (InputHook) adapter(PrefixConfig.DEFAULT, ModelShape.preset("mamba2-tiny").orElseThrow(),
                LayerSelection.of(1));
        assertThat(hook.placement()).isEqualTo(InputHook.Placement.LAYER);
        assertThat(hook.virtualTokens(0)).isEmpty();
        // Mamba-2 tiny: x (128) + B and C (2·1·16) + dt (8 heads)
        assertThat(hook.virtualTokens(1).orElseThrow().shape()).containsExactly(10, 128 + 32 + 8);
    }

    @Test
    void reparameterizedTokensFollowTheMlp() {
        Adapter a = adapter(MLP, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        Tensor e = a.parameter("prefix_embeddings");
        Tensor w0 = a.parameter("mlp.0.weight");
        Tensor b0 = a.parameter("mlp.0.bias");
        Tensor w2 = a.parameter("mlp.2.weight");
        Tensor b2 = a.parameter("mlp.2.bias");
        // token 2, channel 5 of layer 1 by the formula tanh(E W0ᵀ + b0) W2ᵀ + b2
        int i = 2;
        int row = 128 + 5;
        double expected = b2.data()[row];
        for (int j = 0; j < 6; j++) {
            double pre = b0.data()[j];
            for (int c = 0; c < 128; c++) {
                pre += e.data()[i * 128 + c] * w0.data()[j * 128 + c];
            }
            expected += Math.tanh(pre) * w2.data()[row * 6 + j];
        }
        float actual = ((InputHook) a).virtualTokens(1).orElseThrow().data()[i * 128 + 5];
        assertThat((double) actual).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-5));
    }

    /** dL/dθ through the MLP against central finite differences, for L = Σ_l Σ G_l ⊙ P_l with random G. */
    @Test
    void reparameterizationGradientsMatchFiniteDifferences() {
        Adapter a = adapter(MLP, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        InputHook hook = (InputHook) a;
        Random rnd = new Random(3);
        IdentityHashMap<Tensor, Tensor> upstream = new IdentityHashMap<>();
        for (int l = 0; l < 2; l++) {
            Tensor g = Tensor.zeros(3, 128);
            for (int k = 0; k < g.size(); k++) {
                g.data()[k] = (float) rnd.nextGaussian();
            }
            upstream.put(hook.virtualTokens(l).orElseThrow(), g);
        }
        Map<String, Tensor> grads = a.parameterGradients(upstream);
        double eps = 1e-2;
        for (var entry : a.parameters().entrySet()) {
            float[] p = entry.getValue().data();
            float[] g = grads.get(entry.getKey()).data();
            double maxAbs = 0;
            double maxErr = 0;
            for (int trial = 0; trial < 12; trial++) {
                int k = rnd.nextInt(p.length);
                float saved = p[k];
                p[k] = (float) (saved + eps);
                a.refreshDerived();
                double plus = loss(hook, upstream);
                p[k] = (float) (saved - eps);
                a.refreshDerived();
                double minus = loss(hook, upstream);
                p[k] = saved;
                a.refreshDerived();
                double numeric = (plus - minus) / (2 * eps);
                maxAbs = Math.max(maxAbs, Math.abs(numeric));
                maxErr = Math.max(maxErr, Math.abs(numeric - g[k]));
            }
            assertThat(maxErr).as("%s: max error %s vs max |grad| %s", entry.getKey(), maxErr, maxAbs)
                    .isLessThanOrEqualTo(1e-2 * Math.max(maxAbs, 1e-3));
        }
    }

    private static double loss(InputHook hook, IdentityHashMap<Tensor, Tensor> upstream) {
        double s = 0;
        for (int l = 0; l < 2; l++) {
            Tensor p = hook.virtualTokens(l).orElseThrow();
            float[] g = upstream.get(p).data();
            for (int k = 0; k < g.length; k++) {
                s += (double) g[k] * p.data()[k];
            }
        }
        return s;
    }
}
