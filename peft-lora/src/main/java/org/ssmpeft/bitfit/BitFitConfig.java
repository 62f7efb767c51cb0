package org.ssmpeft.bitfit;

import java.util.HashSet;
import java.util.List;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;

/**
 * Config of BitFit (Ben Zaken et al.; the reference's BITFIT, paper.md §14, trains conv1d's and dt_proj's biases):
 * here by default the conv bias, the dt bias and the SSM skip D of every selected layer.
 *
 * @param biases the per-layer tensors to train
 */
public record BitFitConfig(
        @Doc("per-layer biases to train: conv1d.bias, dt_proj.bias (Mamba-2: dt_bias), D; opt-in in_proj.bias and"
                + " out_proj.bias, which only models with use_bias have") List<BiasTerm> biases) {

    public static final BitFitConfig DEFAULT = new BitFitConfig(
            List.of(BiasTerm.CONV1D_BIAS, BiasTerm.DT_PROJ_BIAS, BiasTerm.D));

    public BitFitConfig {
        biases = List.copyOf(biases);
        if (biases.isEmpty()) {
            throw new InvalidFieldException("biases", "expected at least one bias to train, found none");
        }
        if (new HashSet<>(biases).size() != biases.size()) {
            throw new InvalidFieldException("biases", "a bias is listed twice in " + biases);
        }
    }
}
