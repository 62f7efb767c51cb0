package org.ssmpeft.runtime.checkpoint;

import java.util.List;

/**
 * A whole Mamba-1 language model's parameters, float32, row-major; V = vocab (padded), d = d_model. Arrays are
 * shared, not copied: treat them as read-only.
 *
 * @param config    the model's configuration
 * @param embedding backbone.embeddings.weight: (V, d)
 * @param layers    one entry per block, in order
 * @param normF     backbone.norm_f.weight: (d)
 * @param lmHead    lm_head.weight: (V, d); the very same array as {@code embedding} when the config ties them
 */
public record MambaWeights(MambaConfig config, float[] embedding, List<LayerWeights> layers, float[] normF,
                           float[] lmHead) {

    public MambaWeights {
        layers = List.copyOf(layers);
        long vd = (long) config.vocabSize() * config.dModel();
        if (embedding.length != vd || lmHead.length != vd) {
            throw new IllegalArgumentException("mamba weights: embedding/lm_head have " + embedding.length + "/"
                    + lmHead.length + " elements, expected " + vd + " (vocab " + config.vocabSize() + " x d_model "
                    + config.dModel() + ")");
        }
        if (config.tieWordEmbeddings() && lmHead != embedding) {
            throw new IllegalArgumentException("mamba weights: the config ties lm_head to the embedding, so lmHead"
                    + " must be the embedding array itself");
        }
        if (normF.length != config.dModel()) {
            throw new IllegalArgumentException("mamba weights: norm_f has " + normF.length + " elements, expected "
                    + config.dModel());
        }
        if (layers.size() != config.layers()) {
            throw new IllegalArgumentException("mamba weights: " + layers.size() + " layers, config says "
                    + config.layers());
        }
        for (LayerWeights l : layers) {
            l.checked(config);
        }
    }
}
