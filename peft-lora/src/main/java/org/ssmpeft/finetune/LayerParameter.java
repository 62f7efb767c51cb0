package org.ssmpeft.finetune;

import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A per-layer tensor of a Mamba-1 block, spelled in configs by its name under the block ({@code A_log},
 * {@code conv1d.weight}, ...), in checkpoint order. {@code in_proj.bias} and {@code out_proj.bias} exist only in
 * models with {@code use_bias} (not the published checkpoints), {@code conv1d.bias} only with {@code use_conv_bias} (all of them);
 * a backend refuses a delta for a tensor its model lacks, naming it.
 */
public enum LayerParameter implements ConfigEnum {
    NORM_WEIGHT("norm.weight", "norm.weight", false),
    IN_PROJ_WEIGHT("in_proj.weight", "mixer.in_proj.weight", true),
    IN_PROJ_BIAS("in_proj.bias", "mixer.in_proj.bias", false),
    CONV1D_WEIGHT("conv1d.weight", "mixer.conv1d.weight", true),
    CONV1D_BIAS("conv1d.bias", "mixer.conv1d.bias", false),
    X_PROJ_WEIGHT("x_proj.weight", "mixer.x_proj.weight", true),
    DT_PROJ_WEIGHT("dt_proj.weight", "mixer.dt_proj.weight", true),
    DT_PROJ_BIAS("dt_proj.bias", "mixer.dt_proj.bias", false),
    A_LOG("A_log", "mixer.A_log", false),
    D("D", "mixer.D", false),
    OUT_PROJ_WEIGHT("out_proj.weight", "mixer.out_proj.weight", true),
    OUT_PROJ_BIAS("out_proj.bias", "mixer.out_proj.bias", false);

    private final String configName;
    private final String suffix;
    private final boolean weightDecay;

    LayerParameter(String configName, String suffix, boolean weightDecay) {
        this.configName = configName;
        this.suffix = suffix;
        this.weightDecay = weightDecay;
    }

    @Override
    public String configName() {
        return configName;
    }

    /** The name under {@code backbone.layers.<i>.}: {@code mixer.A_log}, {@code norm.weight}. */
    public String suffix() {
        return suffix;
    }

    /** The tensor of layer {@code layer} of a Mamba-1 model of this shape, in its stored shape. */
    public BaseTensor of(int layer, ModelShape s) {
        int d = s.dModel();
        int di = s.dInner();
        int[] shape = switch (this) {
            case A_LOG -> new int[] {di, s.dState()};
            case D, CONV1D_BIAS, DT_PROJ_BIAS -> new int[] {di};
            case CONV1D_WEIGHT -> new int[] {di, 1, s.convKernel()};
            case IN_PROJ_WEIGHT -> new int[] {s.inProjWidth(), d};
            case IN_PROJ_BIAS -> new int[] {s.inProjWidth()};
            case X_PROJ_WEIGHT -> new int[] {s.xProjWidth(), di};
            case DT_PROJ_WEIGHT -> new int[] {di, s.dtRank()};
            case OUT_PROJ_WEIGHT -> new int[] {d, di};
            case OUT_PROJ_BIAS, NORM_WEIGHT -> new int[] {d};
        };
        return BaseTensor.ofLayer(layer, suffix, weightDecay, shape);
    }
}
