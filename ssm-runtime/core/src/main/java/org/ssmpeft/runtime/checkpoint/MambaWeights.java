package org.ssmpeft.runtime.checkpoint;

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
 * A whole Mamba-1 language model's parameters, float32, row-major; V = vocab (padded), d = d_model. Arrays are
 * shared, not copied: treat them as read-only.
 *
 * @param config    the model's configuration
 * @param embedding backbone.embeddings.weight: (V, d)
 * @param layers    one entry per block, in order
 * @param normF     backbone.norm_f.weight: (d)
 * @param lmHead    lm_head.weight: (V, d); the very same array as {@code embedding} when the config ties them
 * @param precision the arithmetic of the model's matrix products (float32 unless asked otherwise; the weights
 *                  themselves stay float32)
 */
public record MambaWeights(MambaConfig config, float[] embedding, List<LayerWeights> layers, float[] normF,
                           float[] lmHead, Precision precision)
        implements LanguageModelWeights<MambaWeights> {

    public MambaWeights {
        layers = List.copyOf(layers);
        java.util.Objects.requireNonNull(precision, "precision");
        LanguageModelWeights.checkTrunk("mamba weights", config, embedding, layers.size(), normF, lmHead);
        for (LayerWeights l : layers) {
            l.checked(config);
        }
    }

    /** The model computing in float32. */
    public MambaWeights(MambaConfig config, float[] embedding, List<LayerWeights> layers, float[] normF,
                        float[] lmHead) {
        this(config, embedding, layers, normF, lmHead, Precision.FLOAT32);
    }

    /** The same weights (shared, not copied) with products in {@code precision}. */
    @Override
    public MambaWeights withPrecision(Precision precision) {
        return precision == this.precision ? this
                : new MambaWeights(config, embedding, layers, normF, lmHead, precision);
    }

    @Override
    public ModelFamily family() {
        return ModelFamily.MAMBA;
    }

    @Override
    public ModelShape shape() {
        return config.toShape();
    }

    /** The Hugging Face name of a per-layer tensor: {@code layerName(3, "mixer.A_log")}. */
    public static String layerName(int layer, String suffix) {
        return LanguageModelWeights.layerName(layer, suffix);
    }

    /**
     * Every parameter under its Hugging Face name, in checkpoint order, wrapping (not copying) the arrays: the
     * names a parameter hook or a trainer uses ({@code backbone.layers.0.mixer.D}, ...). A tied head is not listed
     * separately: it is {@code backbone.embeddings.weight}. conv1d.weight has its stored shape (D, 1, K).
     */
    @Override
    public Map<String, Tensor> parameters() {
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        Map<String, Tensor> out = new LinkedHashMap<>();
        LanguageModelWeights.putEmbedding(out, config, embedding);
        for (int i = 0; i < layers.size(); i++) {
            LayerWeights l = layers.get(i);
            out.put(layerName(i, "norm.weight"), Tensor.of(l.norm(), dm));
            out.put(layerName(i, "mixer.in_proj.weight"), Tensor.of(l.inProj(), 2 * di, dm));
            int li = i;
            l.inProjBias().ifPresent(b -> out.put(layerName(li, "mixer.in_proj.bias"), Tensor.of(b, 2 * di)));
            out.put(layerName(i, "mixer.conv1d.weight"), Tensor.of(l.convWeight(), di, 1, config.convKernel()));
            l.convBias().ifPresent(b -> out.put(layerName(li, "mixer.conv1d.bias"), Tensor.of(b, di)));
            out.put(layerName(i, "mixer.x_proj.weight"), Tensor.of(l.xProj(), r + 2 * n, di));
            out.put(layerName(i, "mixer.dt_proj.weight"), Tensor.of(l.dtProj(), di, r));
            out.put(layerName(i, "mixer.dt_proj.bias"), Tensor.of(l.dtProjBias(), di));
            out.put(layerName(i, "mixer.A_log"), Tensor.of(l.aLog(), di, n));
            out.put(layerName(i, "mixer.D"), Tensor.of(l.d(), di));
            out.put(layerName(i, "mixer.out_proj.weight"), Tensor.of(l.outProj(), dm, di));
            l.outProjBias().ifPresent(b -> out.put(layerName(li, "mixer.out_proj.bias"), Tensor.of(b, dm)));
        }
        LanguageModelWeights.putNormAndHead(out, config, normF, lmHead);
        return out;
    }

    @Override
    public MambaWeights with(BiFunction<String, float[], float[]> replace) {
        List<LayerWeights> ls = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            LayerWeights l = layers.get(i);
            int li = i;
            BiFunction<String, float[], float[]> f = (suffix, a) -> replace.apply(layerName(li, suffix), a);
            ls.add(new LayerWeights(f.apply("norm.weight", l.norm()), f.apply("mixer.in_proj.weight", l.inProj()),
                    opt(f, "mixer.in_proj.bias", l.inProjBias()), f.apply("mixer.conv1d.weight", l.convWeight()),
                    opt(f, "mixer.conv1d.bias", l.convBias()), f.apply("mixer.x_proj.weight", l.xProj()),
                    f.apply("mixer.dt_proj.weight", l.dtProj()), f.apply("mixer.dt_proj.bias", l.dtProjBias()),
                    f.apply("mixer.A_log", l.aLog()), f.apply("mixer.D", l.d()),
                    f.apply("mixer.out_proj.weight", l.outProj()), opt(f, "mixer.out_proj.bias", l.outProjBias())));
        }
        float[] emb = replace.apply(EMBEDDING, embedding);
        float[] head = config.tieWordEmbeddings() ? emb : replace.apply(LM_HEAD, lmHead);
        return new MambaWeights(config, emb, ls, replace.apply(NORM_F, normF), head, precision);
    }

    private static Optional<float[]> opt(BiFunction<String, float[], float[]> f, String suffix, Optional<float[]> a) {
        return a.map(x -> f.apply(suffix, x));
    }
}
