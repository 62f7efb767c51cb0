package org.ssmpeft.stateoffset;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.StateExtensionHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;

/**
 * Additional-scan (the reference code's {@code DIM_EXTEND}, a state-based baseline of the paper): every selected
 * layer's state grows from N to N + n' per channel, {@code A_log' = [A_log | a']}, {@code W_B' = [W_B; E_B]},
 * {@code W_C' = [W_C; E_C]}; only a' (D, n'), E_B (n', D) and E_C (n', D) train. E_B starts Kaiming-uniform (a = √5),
 * E_C at zero, so the model is unchanged at the start (the new states are written but not read); a' as
 * {@link AdditionalScanConfig.AInit} says. Lyr·3·n'·D parameters (884,736 on Mamba-130M with n' = 8), none
 * weight-decayed (the reference marks them {@code _no_weight_decay}). Mamba-1 only.
 */
public final class AdditionalScanProvider extends BasePeftMethodProvider<AdditionalScanConfig> {

    public static final String NAME = "additional-scan";
    static final String A_PARAMETER = "a_extra";
    static final String B_PARAMETER = "b_extra";
    static final String C_PARAMETER = "c_extra";

    public AdditionalScanProvider() {
        super(NAME, "Additional-scan: n' extra state dimensions per channel with their own trainable decay a', input"
                + " map E_B and read-out E_C (Mamba-1)", AdditionalScanConfig.class, AdditionalScanConfig.DEFAULT,
                true, HookKind.STATE_EXTENSION);
    }

    /**
     * Mamba-1 only: the extra states n' are defined per channel of d_inner with their own A' (d_inner, n'); Mamba-2's
     * per-head A has no mapping here yet, and {@link #validate} says so.
     */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.of(ModelFamily.MAMBA);
    }

    @Override
    public List<ConfigProblem> validate(AdditionalScanConfig config, ModelShape shape) {
        if (shape.family() != ModelFamily.MAMBA) {
            return List.of(new ConfigProblem("method", "additional-scan extends the per-channel state (d_inner, N) of"
                    + " Mamba-1 blocks, but this model is " + shape.family() + " (one scalar A per head, B and C per"
                    + " group), where it has no defined mapping; use state-offset or initial-state on Mamba-2"));
        }
        return List.of();
    }

    @Override
    public List<ParameterSpec> parameterSpecs(AdditionalScanConfig config, ModelShape shape, LayerSelection layers) {
        List<ConfigProblem> problems = validate(config, shape);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(problems.getFirst().toString());
        }
        int n = config.nExtra();
        int d = shape.dInner();
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            specs.add(ParameterSpec.perLayer(l, A_PARAMETER, config.aInit().initializer(shape),
                    HookKind.STATE_EXTENSION, false, d, n));
            specs.add(ParameterSpec.perLayer(l, B_PARAMETER, Initializer.KaimingUniform.LINEAR_DEFAULT,
                    HookKind.STATE_EXTENSION, false, n, d));
            specs.add(ParameterSpec.perLayer(l, C_PARAMETER, new Initializer.Zeros(), HookKind.STATE_EXTENSION, false,
                    n, d));
        }
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<AdditionalScanConfig> context) {
        return new AdditionalScan(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }

    /** a', E_B, E_C per selected layer. */
    static final class AdditionalScan extends Adapter implements StateExtensionHook {
        AdditionalScan(AdapterContext<AdditionalScanConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<StateExtension> stateExtension(int layer) {
            return layerParameter(layer, A_PARAMETER).map(a -> new StateExtension(a,
                    parameter("layers." + layer + "." + B_PARAMETER), parameter("layers." + layer + "." + C_PARAMETER)));
        }
    }
}
