package org.ssmpeft.prefix;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Prefix tuning on SSMs: in each selected layer, n trainable virtual tokens P_l (n, W) are prepended to the SSM input
 * (the in_proj output without the gate, W = {@link ModelShape#mixerInputWidth()}); the gate is zero there and their
 * outputs are dropped, so they act through the states they leave (the reference authors' sequence-prefix design).
 *
 * <p>With {@code reparameterize}, the tokens of all Ls selected layers come from one embedding E (n, W) through an
 * MLP, as Li and Liang and Hugging Face PEFT do: {@code [P_1 ... P_Ls] = tanh(E W0ᵀ + b0) W2ᵀ + b2}, W0 (H, W),
 * W2 (Ls·W, H). Parameters: without MLP Ls·n·W; with it n·W + H·W + H + Ls·W·H + Ls·W.
 */
public final class PrefixProvider extends BasePeftMethodProvider<PrefixConfig> {

    public static final String NAME = "prefix";
    static final String TOKENS = "prefix";
    static final String EMBEDDING = "prefix_embeddings";
    static final String W0 = "mlp.0.weight";
    static final String B0 = "mlp.0.bias";
    static final String W2 = "mlp.2.weight";
    static final String B2 = "mlp.2.bias";

    public PrefixProvider() {
        super(NAME, "Prefix tuning: trainable virtual tokens prepended to the SSM input inside each layer"
                + " (optionally produced by an MLP)", PrefixConfig.class, PrefixConfig.DEFAULT, true, HookKind.INPUT);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(PrefixConfig config, ModelShape shape, LayerSelection layers) {
        int n = config.numVirtualTokens();
        int w = shape.mixerInputWidth();
        int[] selected = layers.resolve(shape.layers());
        Initializer tokens = config.initStd() == 0 ? new Initializer.Zeros() : new Initializer.Normal(config.initStd());
        List<ParameterSpec> specs = new ArrayList<>();
        if (!config.reparameterize()) {
            for (int l : selected) {
                specs.add(ParameterSpec.perLayer(l, TOKENS, tokens, HookKind.INPUT, true, n, w));
            }
            return specs;
        }
        int h = config.encoderHiddenSize();
        int out = Math.multiplyExact(selected.length, w);
        // nn.Linear's default init: weight Kaiming-uniform(a=√5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        specs.add(ParameterSpec.global(EMBEDDING, tokens, HookKind.INPUT, true, n, w));
        specs.add(ParameterSpec.global(W0, Initializer.KaimingUniform.LINEAR_DEFAULT, HookKind.INPUT, true, h, w));
        specs.add(ParameterSpec.global(B0, new Initializer.Uniform(1 / Math.sqrt(w)), HookKind.INPUT, true, h));
        specs.add(ParameterSpec.global(W2, Initializer.KaimingUniform.LINEAR_DEFAULT, HookKind.INPUT, true, out, h));
        specs.add(ParameterSpec.global(B2, new Initializer.Uniform(1 / Math.sqrt(h)), HookKind.INPUT, true, out));
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<PrefixConfig> context) {
        List<ParameterSpec> specs = parameterSpecs(context.config(), context.shape(), context.layers());
        return context.config().reparameterize() ? new ReparameterizedPrefixAdapter(context, specs)
                : new PrefixAdapter(context, specs);
    }

    /** Tokens trained directly, one tensor per layer. */
    static final class PrefixAdapter extends Adapter implements InputHook {
        PrefixAdapter(AdapterContext<PrefixConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Placement placement() {
            return Placement.LAYER;
        }

        @Override
        public int virtualTokenCount() {
            return ((PrefixConfig) config()).numVirtualTokens();
        }

        @Override
        public Optional<Tensor> virtualTokens(int layer) {
            return layerParameter(layer, TOKENS);
        }
    }

    /** Tokens derived by the MLP; hooks hand out the derived tensors, the chain rule maps their gradients back. */
    static final class ReparameterizedPrefixAdapter extends Adapter implements InputHook {
        private final int n;
        private final int w;
        private final int h;
        private final Map<Integer, Tensor> tokensByLayer = new LinkedHashMap<>();
        private final Tensor hidden;

        ReparameterizedPrefixAdapter(AdapterContext<PrefixConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
            this.n = context.config().numVirtualTokens();
            this.w = context.shape().mixerInputWidth();
            this.h = context.config().encoderHiddenSize();
            for (int l : context.layerIndices()) {
                tokensByLayer.put(l, Tensor.zeros(n, w));
            }
            this.hidden = Tensor.zeros(n, h);
            refreshDerived();
        }

        @Override
        public Placement placement() {
            return Placement.LAYER;
        }

        @Override
        public int virtualTokenCount() {
            return n;
        }

        @Override
        public Optional<Tensor> virtualTokens(int layer) {
            return Optional.ofNullable(tokensByLayer.get(layer));
        }

        /** hidden = tanh(E W0ᵀ + b0) (n, H); P_k = (hidden W2ᵀ + b2)[:, k·W .. (k+1)·W) for the k-th layer. */
        @Override
        public void refreshDerived() {
            float[] e = parameter(EMBEDDING).data();
            float[] w0 = parameter(W0).data();
            float[] b0 = parameter(B0).data();
            float[] w2 = parameter(W2).data();
            float[] b2 = parameter(B2).data();
            float[] hid = hidden.data();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < h; j++) {
                    double s = b0[j];
                    for (int c = 0; c < w; c++) {
                        s += (double) e[i * w + c] * w0[j * w + c];
                    }
                    hid[i * h + j] = (float) Math.tanh(s);
                }
            }
            int k = 0;
            for (Tensor tok : tokensByLayer.values()) {
                float[] p = tok.data();
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < w; c++) {
                        int row = k * w + c;
                        double s = b2[row];
                        for (int j = 0; j < h; j++) {
                            s += (double) hid[i * h + j] * w2[row * h + j];
                        }
                        p[i * w + c] = (float) s;
                    }
                }
                k++;
            }
        }

        /**
         * Chain rule through the MLP, with G = dL/d[P_1 ... P_Ls] (n, Ls·W) and a = hidden:
         * db2 = Σ_i G_i; dW2 = Gᵀ a; dPre = (G W2) ⊙ (1 − a²); db0 = Σ_i dPre_i; dW0 = dPreᵀ E; dE = dPre W0.
         */
        @Override
        public Map<String, Tensor> parameterGradients(IdentityHashMap<Tensor, Tensor> hookGradients) {
            int out = tokensByLayer.size() * w;
            float[] g = new float[n * out];
            int k = 0;
            for (Tensor tok : tokensByLayer.values()) {
                Tensor gt = hookGradients.get(tok);
                if (gt != null) {
                    for (int i = 0; i < n; i++) {
                        System.arraycopy(gt.data(), i * w, g, i * out + k * w, w);
                    }
                }
                k++;
            }
            float[] e = parameter(EMBEDDING).data();
            float[] w0 = parameter(W0).data();
            float[] w2 = parameter(W2).data();
            float[] a = hidden.data();
            Tensor dE = Tensor.zeros(n, w);
            Tensor dW0 = Tensor.zeros(h, w);
            Tensor dB0 = Tensor.zeros(h);
            Tensor dW2 = Tensor.zeros(out, h);
            Tensor dB2 = Tensor.zeros(out);
            float[] dPre = new float[n * h];
            for (int i = 0; i < n; i++) {
                for (int r = 0; r < out; r++) {
                    float gi = g[i * out + r];
                    if (gi == 0f) {
                        continue;
                    }
                    dB2.data()[r] += gi;
                    for (int j = 0; j < h; j++) {
                        dW2.data()[r * h + j] += gi * a[i * h + j];
                    }
                }
                for (int j = 0; j < h; j++) {
                    double s = 0;
                    for (int r = 0; r < out; r++) {
                        s += (double) g[i * out + r] * w2[r * h + j];
                    }
                    float aij = a[i * h + j];
                    dPre[i * h + j] = (float) (s * (1 - (double) aij * aij));
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < h; j++) {
                    float d = dPre[i * h + j];
                    dB0.data()[j] += d;
                    for (int c = 0; c < w; c++) {
                        dW0.data()[j * w + c] += d * e[i * w + c];
                        dE.data()[i * w + c] += d * w0[j * w + c];
                    }
                }
            }
            Map<String, Tensor> grads = new LinkedHashMap<>();
            grads.put(EMBEDDING, dE);
            grads.put(W0, dW0);
            grads.put(B0, dB0);
            grads.put(W2, dW2);
            grads.put(B2, dB2);
            return grads;
        }
    }
}
