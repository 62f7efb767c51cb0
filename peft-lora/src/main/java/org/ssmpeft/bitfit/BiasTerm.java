package org.ssmpeft.bitfit;

import org.ssmpeft.api.config.ConfigEnum;

/**
 * A bias-like per-layer tensor BitFit can train, spelled by its Mamba-1 name under the block. On Mamba-2,
 * {@code dt_proj.bias} is the block's {@code dt_bias} (one per head) and {@code D} has one value per head.
 * {@code in_proj.bias} and {@code out_proj.bias} exist only in models with {@code use_bias} (not the published
 * checkpoints), so they are opt-in; a backend refuses a delta for a bias its model lacks, naming it.
 */
public enum BiasTerm implements ConfigEnum {
    CONV1D_BIAS("conv1d.bias"),
    DT_PROJ_BIAS("dt_proj.bias"),
    D("D"),
    IN_PROJ_BIAS("in_proj.bias"),
    OUT_PROJ_BIAS("out_proj.bias");

    private final String configName;

    BiasTerm(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
