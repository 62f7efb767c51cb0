package org.ssmpeft.runtime.checkpoint;

import java.util.Map;
import java.util.function.BiFunction;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;

/**
 * The parameters every family's language model has around its blocks, float32, row-major: the embedding (V, d),
 * the final RMSNorm norm_f (d) and the head (V, d), the very same array as the embedding when tied; and the same
 * model with arrays replaced by Hugging Face name. {@link MambaWeights} and {@link Mamba2Weights} implement it.
 *
 * @param <W> the family's weights type, which {@link #with} returns
 */
public interface LanguageModelWeights<W extends LanguageModelWeights<W>> extends ModelSpec {

    /** Hugging Face name of the embedding (also the tied head's weight). */
    String EMBEDDING = "backbone.embeddings.weight";
    /** Hugging Face name of the final norm's weight. */
    String NORM_F = "backbone.norm_f.weight";
    /** Hugging Face name of an untied head's weight. */
    String LM_HEAD = "lm_head.weight";

    /** The Hugging Face name of a per-layer tensor: {@code layerName(3, "mixer.A_log")}. */
    static String layerName(int layer, String suffix) {
        return "backbone.layers." + layer + "." + suffix;
    }

    LanguageModelConfig config();

    /** backbone.embeddings.weight: (V, d). */
    float[] embedding();

    /** backbone.norm_f.weight: (d). */
    float[] normF();

    /** lm_head.weight: (V, d); the embedding array itself when tied. */
    float[] lmHead();

    /**
     * The same model with some arrays replaced: {@code replace.apply(name, array)} returns the array to use for the
     * parameter {@code name} (the given one to keep it). A tied head follows the embedding.
     */
    W with(BiFunction<String, float[], float[]> replace);

    /** The same model (arrays shared) computing its products in {@code precision}. */
    @Override
    W withPrecision(Precision precision);

    @Override
    default boolean tiedHead() {
        return config().tieWordEmbeddings();
    }

    /**
     * Checks the parts around the blocks against the config; {@code model} names the family in messages
     * ("mamba weights"). Fails naming the part, the length found and the one expected.
     */
    static void checkTrunk(String model, LanguageModelConfig config, float[] embedding, int layerCount, float[] normF,
                           float[] lmHead) {
        long vd = (long) config.vocabSize() * config.dModel();
        if (embedding.length != vd || lmHead.length != vd) {
            throw new IllegalArgumentException(model + ": embedding/lm_head have " + embedding.length + "/"
                    + lmHead.length + " elements, expected " + vd + " (vocab " + config.vocabSize() + " x d_model "
                    + config.dModel() + ")");
        }
        if (config.tieWordEmbeddings() && lmHead != embedding) {
            throw new IllegalArgumentException(model + ": the config ties lm_head to the embedding, so lmHead"
                    + " must be the embedding array itself");
        }
        if (normF.length != config.dModel()) {
            throw new IllegalArgumentException(model + ": norm_f has " + normF.length + " elements, expected "
                    + config.dModel());
        }
        if (layerCount != config.layers()) {
            throw new IllegalArgumentException(model + ": " + layerCount + " layers, config says "
                    + config.layers());
        }
    }

    /** Puts the embedding first into {@code out} (named parameters in checkpoint order). */
    static void putEmbedding(Map<String, Tensor> out, LanguageModelConfig config, float[] embedding) {
        out.put(EMBEDDING, Tensor.of(embedding, config.vocabSize(), config.dModel()));
    }

    /** Puts norm_f and an untied head last into {@code out}. */
    static void putNormAndHead(Map<String, Tensor> out, LanguageModelConfig config, float[] normF, float[] lmHead) {
        out.put(NORM_F, Tensor.of(normF, config.dModel()));
        if (!config.tieWordEmbeddings()) {
            out.put(LM_HEAD, Tensor.of(lmHead, config.vocabSize(), config.dModel()));
        }
    }
}
