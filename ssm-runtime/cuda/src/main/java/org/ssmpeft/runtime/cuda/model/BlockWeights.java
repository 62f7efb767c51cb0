package org.ssmpeft.runtime.cuda.model;

import java.util.function.ToLongFunction;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;

/**
 * Device addresses of one Mamba-1 block's weights as a call computes with them (the base ones, or θ_base + ΣΔθ where
 * a parameter delta acts); 0 for an absent bias. Symbols: d d_model, D d_inner, N d_state, R dt_rank, K conv kernel.
 *
 * @param norm        (d)
 * @param inProj      (2D, d);  inProjBias (2D) or 0
 * @param convWeight  (D, K);   convBias (D) or 0
 * @param xProj       (R + 2N, D)
 * @param dtProj      (D, R);   dtProjBias (D)
 * @param negA        (D, N) A = -exp(A_log)
 * @param skip        (D) the skip D
 * @param outProj     (d, D);   outProjBias (d) or 0
 */
record BlockWeights(long norm, long inProj, long inProjBias, long convWeight, long convBias, long xProj, long dtProj,
                    long dtProjBias, long negA, long skip, long outProj, long outProjBias) {

    /** Layer {@code l}'s weights by Hugging Face name ({@code address} gives 0 for an absent one). */
    static BlockWeights of(int l, ToLongFunction<String> address, long negA) {
        ToLongFunction<String> at = suffix -> address.applyAsLong(LanguageModelWeights.layerName(l, suffix));
        return new BlockWeights(at.applyAsLong("norm.weight"), at.applyAsLong("mixer.in_proj.weight"),
                at.applyAsLong("mixer.in_proj.bias"), at.applyAsLong("mixer.conv1d.weight"),
                at.applyAsLong("mixer.conv1d.bias"), at.applyAsLong("mixer.x_proj.weight"),
                at.applyAsLong("mixer.dt_proj.weight"), at.applyAsLong("mixer.dt_proj.bias"), negA,
                at.applyAsLong("mixer.D"), at.applyAsLong("mixer.out_proj.weight"),
                at.applyAsLong("mixer.out_proj.bias"));
    }
}
