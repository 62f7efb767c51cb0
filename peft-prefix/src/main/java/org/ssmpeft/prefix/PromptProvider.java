package org.ssmpeft.prefix;

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
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Prompt tuning (Lester et al.): n trainable embeddings P (n, d_model) prepended to the token embeddings,
 * {@code e' = [P; E(x)]}. The tensor is named {@code prompt_embeddings} as in Hugging Face PEFT. n·d_model parameters.
 */
public final class PromptProvider extends BasePeftMethodProvider<PromptConfig> {

    public static final String NAME = "prompt";
    static final String PARAMETER = "prompt_embeddings";

    public PromptProvider() {
        super(NAME, "Prompt tuning: trainable virtual-token embeddings prepended to the input sequence",
                PromptConfig.class, PromptConfig.DEFAULT, false, HookKind.INPUT);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(PromptConfig config, ModelShape shape, LayerSelection layers) {
        Initializer init = config.initStd() == 0 ? new Initializer.Zeros() : new Initializer.Normal(config.initStd());
        return List.of(ParameterSpec.global(PARAMETER, init, HookKind.INPUT, false, config.numVirtualTokens(),
                shape.dModel()));
    }

    @Override
    public Adapter create(AdapterContext<PromptConfig> context) {
        return new PromptAdapter(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }

    static final class PromptAdapter extends Adapter implements InputHook {
        PromptAdapter(AdapterContext<PromptConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Placement placement() {
            return Placement.EMBEDDING;
        }

        @Override
        public int virtualTokenCount() {
            return ((PromptConfig) config()).numVirtualTokens();
        }

        @Override
        public Optional<Tensor> virtualTokens(int layer) {
            return Optional.of(parameter(PARAMETER));
        }
    }
}
