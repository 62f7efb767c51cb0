package org.ssmpeft.runtime.checkpoint;

import static org.ssmpeft.runtime.checkpoint.LanguageModelWeights.layerName;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Precision;

/**
 * A whole Mamba-2 language model's parameters, float32, row-major; V = vocab (padded), d = d_model. Names are
 * those of transformers' {@code Mamba2ForCausalLM} (the same prefix scheme as Mamba-1, {@link MambaWeights#layerName}).
 * Arrays are shared, not copied: read-only.
 *
 * @param config    the model's configuration
 * @param embedding backbone.embeddings.weight: (V, d)
 * @param layers    one entry per block, in order
 * @param normF     backbone.norm_f.weight: (d)
 * @param lmHead    lm_head.weight: (V, d); the very same array as {@code embedding} when tied
 * @param precision the arithmetic of the model's matrix products (float32 unless asked otherwise; the weights
 *                  themselves stay float32)
 */
public record Mamba2Weights(Mamba2Config config, float[] embedding, List<Mamba2LayerWeights> layers, float[] normF,
                            float[] lmHead, Precision precision)
        implements LanguageModelWeights<Mamba2Weights> {

    public Mamba2Weights {
        layers = List.copyOf(layers);
        java.util.Objects.requireNonNull(precision, "precision");
        LanguageModelWeights.checkTrunk("mamba2 weights", config, embedding, layers.size(), normF, lmHead);
        for (Mamba2LayerWeights l : layers) {
            l.checked(config);
        }
    }

    /** The model computing in float32. */
    public Mamba2Weights(Mamba2Config config, float[] embedding, List<Mamba2LayerWeights> layers, float[] normF,
                         float[] lmHead) {
        this(config, embedding, layers, normF, lmHead, Precision.FLOAT32);
    }

    /** The same weights (shared, not copied) with products in {@code precision}. */
    @Override
    public Mamba2Weights withPrecision(Precision precision) {
        return precision == this.precision ? this
                : new Mamba2Weights(config, embedding, layers, normF, lmHead, precision);
    }

    @Override
    public ModelFamily family() {
        return ModelFamily.MAMBA2;
    }

    @Override
    public ModelShape shape() {
        return config.toShape();
    }

    /**
     * Every parameter under its Hugging Face name, in checkpoint order, wrapping (not copying) the arrays.
     * conv1d.weight has its stored shape (C, 1, K). A tied head is not listed separately.
     */
    @Override
    public Map<String, Tensor> parameters() {
        Mamba2Config c = config;
        int dm = c.dModel();
        int di = c.dInner();
        int h = c.heads();
        Map<String, Tensor> out = new LinkedHashMap<>();
        LanguageModelWeights.putEmbedding(out, c, embedding);
        for (int i = 0; i < layers.size(); i++) {
            Mamba2LayerWeights l = layers.get(i);
            int li = i;
            out.put(layerName(i, "norm.weight"), Tensor.of(l.norm(), dm));
            out.put(layerName(i, "mixer.in_proj.weight"), Tensor.of(l.inProj(), c.inProjWidth(), dm));
            l.inProjBias().ifPresent(b -> out.put(layerName(li, "mixer.in_proj.bias"),
                    Tensor.of(b, c.inProjWidth())));
            out.put(layerName(i, "mixer.conv1d.weight"),
                    Tensor.of(l.convWeight(), c.convDim(), 1, c.convKernel()));
            l.convBias().ifPresent(b -> out.put(layerName(li, "mixer.conv1d.bias"),
                    Tensor.of(b, c.convDim())));
            out.put(layerName(i, "mixer.dt_bias"), Tensor.of(l.dtBias(), h));
            out.put(layerName(i, "mixer.A_log"), Tensor.of(l.aLog(), h));
            out.put(layerName(i, "mixer.D"), Tensor.of(l.d(), h));
            out.put(layerName(i, "mixer.norm.weight"), Tensor.of(l.gateNorm(), di));
            out.put(layerName(i, "mixer.out_proj.weight"), Tensor.of(l.outProj(), dm, di));
            l.outProjBias().ifPresent(b -> out.put(layerName(li, "mixer.out_proj.bias"),
                    Tensor.of(b, dm)));
        }
        LanguageModelWeights.putNormAndHead(out, c, normF, lmHead);
        return out;
    }

    @Override
    public Mamba2Weights with(BiFunction<String, float[], float[]> replace) {
        List<Mamba2LayerWeights> ls = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Mamba2LayerWeights l = layers.get(i);
            int li = i;
            BiFunction<String, float[], float[]> f = (suffix, a) -> replace.apply(layerName(li, suffix), a);
            ls.add(new Mamba2LayerWeights(f.apply("norm.weight", l.norm()), f.apply("mixer.in_proj.weight", l.inProj()),
                    opt(f, "mixer.in_proj.bias", l.inProjBias()), f.apply("mixer.conv1d.weight", l.convWeight()),
                    opt(f, "mixer.conv1d.bias", l.convBias()), f.apply("mixer.dt_bias", l.dtBias()),
                    f.apply("mixer.A_log", l.aLog()), f.apply("mixer.D", l.d()),
                    f.apply("mixer.norm.weight", l.gateNorm()), f.apply("mixer.out_proj.weight", l.outProj()),
                    opt(f, "mixer.out_proj.bias", l.outProjBias())));
        }
        float[] emb = replace.apply(EMBEDDING, embedding);
        float[] head = config.tieWordEmbeddings() ? emb : replace.apply(LM_HEAD, lmHead);
        return new Mamba2Weights(config, emb, ls, replace.apply(NORM_F, normF), head, precision);
    }

    private static Optional<float[]> opt(BiFunction<String, float[], float[]> f, String suffix, Optional<float[]> a) {
        return a.map(x -> f.apply(suffix, x));
    }
}
