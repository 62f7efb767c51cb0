package org.ssmpeft.finetune;

import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A per-layer tensor of a Mamba-1 or Mamba-2 block, spelled in configs by its name under the block ({@code A_log},
 * {@code conv1d.weight}, ...), in checkpoint order. {@code in_proj.bias} and {@code out_proj.bias} exist only in
 * models with {@code use_bias} (not the published checkpoints), {@code conv1d.bias} only with {@code use_conv_bias} (all of them);
 * a backend refuses a delta for a tensor its model lacks, naming it. Families: x_proj and dt_proj are Mamba-1's
 * alone; {@code dt_bias} (H) and the gated norm {@code mixer.norm.weight} (D) Mamba-2's; the rest is in both, with
 * Mamba-2's shapes per head ({@code A_log} and {@code D} of (H), the conv over D + 2GN channels).
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
    DT_BIAS("dt_bias", "mixer.dt_bias", false),
    A_LOG("A_log", "mixer.A_log", false),
    D("D", "mixer.D", false),
    GATE_NORM_WEIGHT("mixer.norm.weight", "mixer.norm.weight", false),
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

    /** Whether blocks of {@code family} have this tensor. */
    public boolean existsIn(ModelFamily family) {
        return switch (this) {
            case X_PROJ_WEIGHT, DT_PROJ_WEIGHT, DT_PROJ_BIAS -> family == ModelFamily.MAMBA;
            case DT_BIAS, GATE_NORM_WEIGHT -> family == ModelFamily.MAMBA2;
            default -> true;
        };
    }

    /**
     * The tensor of layer {@code layer} of a model of this shape, in its stored shape; fails for a tensor the
     * family's blocks lack ({@link #existsIn}).
     */
    public BaseTensor of(int layer, ModelShape s) {
        if (!existsIn(s.family())) {
            throw new IllegalArgumentException("layer_parameters: '" + configName + "' is not a tensor of a "
                    + s.family() + " block; " + s.family() + " has " + namesIn(s.family()));
        }
        if (s.family() == ModelFamily.MAMBA2) {
            return mamba2(layer, s);
        }
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
            case DT_BIAS, GATE_NORM_WEIGHT -> throw new AssertionError(this);
        };
        return BaseTensor.ofLayer(layer, suffix, weightDecay, shape);
    }

    /** transformers' Mamba2Mixer: H heads, C = D + 2GN conv channels. */
    private BaseTensor mamba2(int layer, ModelShape s) {
        int d = s.dModel();
        int di = s.dInner();
        int c = s.convChannels();
        int[] shape = switch (this) {
            case A_LOG, D, DT_BIAS -> new int[] {s.heads()};
            case CONV1D_WEIGHT -> new int[] {c, 1, s.convKernel()};
            case CONV1D_BIAS -> new int[] {c};
            case IN_PROJ_WEIGHT -> new int[] {s.inProjWidth(), d};
            case IN_PROJ_BIAS -> new int[] {s.inProjWidth()};
            case GATE_NORM_WEIGHT -> new int[] {di};
            case OUT_PROJ_WEIGHT -> new int[] {d, di};
            case OUT_PROJ_BIAS, NORM_WEIGHT -> new int[] {d};
            case X_PROJ_WEIGHT, DT_PROJ_WEIGHT, DT_PROJ_BIAS -> throw new AssertionError(this);
        };
        return BaseTensor.ofLayer(layer, suffix, weightDecay, shape);
    }

    /** The config names of the tensors a block of {@code family} has, in checkpoint order. */
    public static String namesIn(ModelFamily family) {
        return java.util.Arrays.stream(values()).filter(p -> p.existsIn(family)).map(LayerParameter::configName)
                .collect(java.util.stream.Collectors.joining(", "));
    }
}
