package org.ssmpeft.prefix;

import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.Range;

/**
 * Config of prompt tuning.
 *
 * @param numVirtualTokens n, the number of trainable embeddings prepended to the input
 * @param initStd          standard deviation of their N(0, std²) start
 */
public record PromptConfig(
        @Doc("number of virtual tokens prepended at the embedding") @Range(min = 1, max = 4096) int numVirtualTokens,
        @Doc("std of the normal initialisation of the virtual-token embeddings") @Range(min = 0, max = 10)
        double initStd) {

    public static final PromptConfig DEFAULT = new PromptConfig(20, 0.02);
}
