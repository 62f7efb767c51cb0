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
import org.ssmpeft.api.hooks.InitialStateHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Initial-state tuning: the scan of each selected layer starts from a trainable h0 instead of zeros
 * ({@code h_{-1} = h0}); its effect decays with {@code exp(Δ·A)}. Lyr·D·N parameters.
 */
public final class InitialStateProvider extends BasePeftMethodProvider<InitialStateConfig> {

    public static final String NAME = "initial-state";
    static final String PARAMETER = "initial_state";

    public InitialStateProvider() {
        super(NAME, "Initial-state tuning: a trainable initial SSM state h0 per layer (its effect decays over time)",
                InitialStateConfig.class, InitialStateConfig.DEFAULT, true, HookKind.INITIAL_STATE);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(InitialStateConfig config, ModelShape shape, LayerSelection layers) {
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            specs.add(ParameterSpec.perLayer(l, PARAMETER, config.init().initializer(), HookKind.INITIAL_STATE, false,
                    shape.stateShape()));
        }
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<InitialStateConfig> context) {
        return new InitialStateAdapter(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }

    static final class InitialStateAdapter extends Adapter implements InitialStateHook {
        InitialStateAdapter(AdapterContext<InitialStateConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<Tensor> initialState(int layer) {
            return layerParameter(layer, PARAMETER);
        }
    }
}
