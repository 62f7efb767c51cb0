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
 * weight-decayed (the reference marks them {@code _no_weight_decay}). On Mamba-2 the extra dimensions extend each
 * head's state (a' of (H, n'), {@link StateExtensionHook}): Lyr·n'·(H + 2D) parameters.
 */
public final class AdditionalScanProvider extends BasePeftMethodProvider<AdditionalScanConfig> {

    public static final String NAME = "additional-scan";
    static final String A_PARAMETER = "a_extra";
    static final String B_PARAMETER = "b_extra";
    static final String C_PARAMETER = "c_extra";

    public AdditionalScanProvider() {
        super(NAME, "Additional-scan: n' extra state dimensions per channel with their own trainable decay a', input"
                + " map E_B and read-out E_C (Mamba-2: per head)", AdditionalScanConfig.class, AdditionalScanConfig.DEFAULT,
                true, HookKind.STATE_EXTENSION);
    }

    /**
     * Both families. Mamba-2 is the mapping of the reference's Mamba-1 definition that {@link StateExtensionHook}
     * writes down: n' extra state dimensions per head, a' of (H, n') (one A per head and new dimension, as Mamba-2 has
     * one A per head), E_B and E_C of (n', D) shared by the heads.
     */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(AdditionalScanConfig config, ModelShape shape, LayerSelection layers) {
        int n = config.nExtra();
        int d = shape.dInner();
        int rows = shape.family() == ModelFamily.MAMBA2 ? shape.heads() : d; // a': per channel, or per head
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            specs.add(ParameterSpec.perLayer(l, A_PARAMETER, config.aInit().initializer(shape),
                    HookKind.STATE_EXTENSION, false, rows, n));
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
