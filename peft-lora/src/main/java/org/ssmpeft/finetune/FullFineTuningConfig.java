package org.ssmpeft.finetune;

import org.ssmpeft.api.config.Doc;

/**
 * Config of full fine-tuning through deltas. A {@link org.ssmpeft.api.shape.ModelShape} does not say whether the head
 * is tied or which optional biases exist, so the config does; the defaults describe the published Mamba checkpoints
 * (tied head, conv bias, no in/out_proj bias). A backend refuses a delta for a tensor its model lacks, naming it.
 *
 * @param tiedHead     the head is the embedding (no {@code lm_head.weight} delta); false adds one
 * @param convBias     the model's conv1d has a bias ({@code use_conv_bias})
 * @param linearBiases in_proj and out_proj have biases ({@code use_bias})
 */
public record FullFineTuningConfig(
        @Doc("the model's head is tied to the embedding (true for the published checkpoints): no lm_head.weight"
                + " delta; false adds one") boolean tiedHead,
        @Doc("the model's conv1d has a bias (use_conv_bias)") boolean convBias,
        @Doc("the model's in_proj and out_proj have biases (use_bias)") boolean linearBiases) {

    public static final FullFineTuningConfig DEFAULT = new FullFineTuningConfig(true, true, false);
}
