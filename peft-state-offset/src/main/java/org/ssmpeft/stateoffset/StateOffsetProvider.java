package org.ssmpeft.stateoffset;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/**
 * State-offset Tuning (Kang et al., ACL 2025): a trainable offset acting at every time step, which unlike an initial
 * state does not decay. Variant h adds {@code silu(z_t)·(C_t·h')} to the SSM output with h' of the state's shape per
 * layer (Lyr·D·N parameters, 589,824 on Mamba-130M); variant y adds {@code silu(z_t)·y'} (Lyr·D).
 */
public final class StateOffsetProvider extends BasePeftMethodProvider<StateOffsetConfig> {

    public static final String NAME = "state-offset";
    static final String H_PARAMETER = "state_offset";
    static final String Y_PARAMETER = "output_offset";

    public StateOffsetProvider() {
        super(NAME, "State-offset Tuning: a per-layer offset on the state read-out (h') or on the SSM output (y'),"
                + " added at every step", StateOffsetConfig.class, StateOffsetConfig.DEFAULT, true,
                HookKind.STATE_OFFSET, HookKind.OUTPUT_OFFSET);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(StateOffsetConfig config, ModelShape shape, LayerSelection layers) {
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            specs.add(config.variant() == StateOffsetConfig.Variant.H
                    ? ParameterSpec.perLayer(l, H_PARAMETER, config.init().initializer(), HookKind.STATE_OFFSET, false,
                            shape.stateShape())
                    : ParameterSpec.perLayer(l, Y_PARAMETER, config.init().initializer(), HookKind.OUTPUT_OFFSET,
                            false, shape.dInner()));
        }
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<StateOffsetConfig> context) {
        List<ParameterSpec> specs = parameterSpecs(context.config(), context.shape(), context.layers());
        return context.config().variant() == StateOffsetConfig.Variant.H
                ? new StateOffsetAdapter(context, specs) : new OutputOffsetAdapter(context, specs);
    }

    /** Variant h: h' per layer. */
    static final class StateOffsetAdapter extends Adapter implements StateOffsetHook {
        StateOffsetAdapter(AdapterContext<StateOffsetConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<Tensor> stateOffset(int layer) {
            return layerParameter(layer, H_PARAMETER);
        }
    }

    /** Variant y: y' per layer. */
    static final class OutputOffsetAdapter extends Adapter implements OutputOffsetHook {
        OutputOffsetAdapter(AdapterContext<StateOffsetConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<Tensor> outputOffset(int layer) {
            return layerParameter(layer, Y_PARAMETER);
        }
    }
}
