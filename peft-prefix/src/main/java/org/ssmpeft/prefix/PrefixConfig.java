package org.ssmpeft.prefix;

import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.Range;

/**
 * Config of prefix tuning on SSMs.
 *
 * @param numVirtualTokens   n virtual tokens per selected layer
 * @param reparameterize     produce the per-layer tokens with an MLP from one shared embedding (Li and Liang's
 *                           reparameterisation) instead of training them directly
 * @param encoderHiddenSize  hidden width of that MLP
 * @param initStd            standard deviation of the N(0, std²) start of the tokens (or of the MLP's embedding)
 */
public record PrefixConfig(
        @Doc("number of virtual tokens prepended inside each selected layer") @Range(min = 1, max = 4096)
        int numVirtualTokens,
        @Doc("compute the per-layer tokens as MLP(embedding): tanh between two linear maps") boolean reparameterize,
        @Doc("hidden width of the reparameterisation MLP") @Range(min = 1, max = 65536) int encoderHiddenSize,
        @Doc("std of the normal initialisation of the tokens (or the MLP's input embedding)") @Range(min = 0, max = 10)
        double initStd) {

    public static final PrefixConfig DEFAULT = new PrefixConfig(10, false, 512, 0.02);
}
