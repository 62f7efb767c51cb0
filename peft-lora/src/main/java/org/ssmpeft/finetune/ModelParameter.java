package org.ssmpeft.finetune;

import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A model-wide tensor: the embedding, the final norm, and the head. {@code lm_head.weight} exists only in models with
 * an untied head; with a tied head (the published Mamba checkpoints) the head is the embedding, so train
 * {@code embeddings.weight}; a backend refuses {@code lm_head.weight} on a tied model, naming it.
 */
public enum ModelParameter implements ConfigEnum {
    EMBEDDINGS_WEIGHT("embeddings.weight", "backbone.embeddings.weight", true),
    NORM_F_WEIGHT("norm_f.weight", "backbone.norm_f.weight", false),
    LM_HEAD_WEIGHT("lm_head.weight", "lm_head.weight", true);

    private final String configName;
    private final String hfName;
    private final boolean weightDecay;

    ModelParameter(String configName, String hfName, boolean weightDecay) {
        this.configName = configName;
        this.hfName = hfName;
        this.weightDecay = weightDecay;
    }

    @Override
    public String configName() {
        return configName;
    }

    /** The Hugging Face name ({@code backbone.embeddings.weight}, {@code backbone.norm_f.weight}, ...). */
    public String hfName() {
        return hfName;
    }

    /** The tensor in a model of this shape (either family: the names are the same in Mamba-2). */
    public BaseTensor of(ModelShape s) {
        return switch (this) {
            case EMBEDDINGS_WEIGHT, LM_HEAD_WEIGHT -> BaseTensor.global(hfName, weightDecay, s.vocab(), s.dModel());
            case NORM_F_WEIGHT -> BaseTensor.global(hfName, weightDecay, s.dModel());
        };
    }
}
