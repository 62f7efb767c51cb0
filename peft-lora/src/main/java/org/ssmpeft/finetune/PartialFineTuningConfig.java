package org.ssmpeft.finetune;

import java.util.HashSet;
import java.util.List;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;

/**
 * Config of partial fine-tuning (the reference's LAYER_FREEZE, paper.md §14): chosen base tensors become trainable,
 * the rest stays frozen. The default trains {@code A_log} and {@code D} of every selected layer (A/D tuning).
 *
 * @param layerParameters tensors of each selected layer (the {@code layers} selection applies to them)
 * @param modelParameters model-wide tensors, trained whatever the layer selection
 */
public record PartialFineTuningConfig(
        @Doc("per-layer tensors to train in each selected layer: A_log, D, conv1d.weight, conv1d.bias,"
                + " in_proj.weight, x_proj.weight, dt_proj.weight, dt_proj.bias, out_proj.weight, norm.weight; and"
                + " in_proj.bias, out_proj.bias for models with use_bias; Mamba-2 has dt_bias and mixer.norm.weight"
                + " (the gated norm) instead of x_proj and dt_proj") List<LayerParameter> layerParameters,
        @Doc("model-wide tensors to train: embeddings.weight (also the tied head), norm_f.weight, and lm_head.weight"
                + " for models with an untied head") List<ModelParameter> modelParameters) {

    public static final PartialFineTuningConfig DEFAULT = new PartialFineTuningConfig(
            List.of(LayerParameter.A_LOG, LayerParameter.D), List.of());

    public PartialFineTuningConfig {
        layerParameters = List.copyOf(layerParameters);
        modelParameters = List.copyOf(modelParameters);
        if (layerParameters.isEmpty() && modelParameters.isEmpty()) {
            throw new InvalidFieldException("layer_parameters", "expected at least one tensor to train in"
                    + " layer_parameters or model_parameters, found none");
        }
        if (new HashSet<>(layerParameters).size() != layerParameters.size()) {
            throw new InvalidFieldException("layer_parameters", "a tensor is listed twice in " + layerParameters);
        }
        if (new HashSet<>(modelParameters).size() != modelParameters.size()) {
            throw new InvalidFieldException("model_parameters", "a tensor is listed twice in " + modelParameters);
        }
    }
}
