package org.ssmpeft.runtime.contract;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The other method a method under contract is composed with: adapters written here, so the contract needs no method
 * module. An output offset y' on every layer ({@code y_t += silu(z_t) ⊙ y'}), or, for methods that feed that hook
 * themselves, a parameter delta on layer 0's {@code D}.
 */
final class Partners {

    private Partners() {
    }

    /** Its (empty) config. */
    record PartnerConfig() {
    }

    static final class OutputOffset extends Adapter implements OutputOffsetHook {
        OutputOffset(AdapterContext<PartnerConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<Tensor> outputOffset(int layer) {
            return layerParameter(layer, "output_offset");
        }
    }

    static final class SkipDelta extends Adapter implements ParameterHook {
        static final String NAME = "backbone.layers.0.mixer.D";

        SkipDelta(AdapterContext<PartnerConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
        }

        @Override
        public Optional<Tensor> parameterDelta(String baseName) {
            return parameterIfPresent(baseName);
        }

        @Override
        public Set<String> parameterDeltaNames() {
            return parameters().keySet();
        }
    }

    /** A partner feeding a hook kind the method does not feed, with random values from {@code seed}. */
    static Adapter forMethodFeeding(Set<HookKind> methodHooks, ModelShape shape, long seed) {
        Adapter partner;
        if (!methodHooks.contains(HookKind.OUTPUT_OFFSET)) {
            List<ParameterSpec> specs = new java.util.ArrayList<>();
            for (int l = 0; l < shape.layers(); l++) {
                specs.add(ParameterSpec.perLayer(l, "output_offset", new Initializer.Zeros(), HookKind.OUTPUT_OFFSET,
                        false, shape.dInner()));
            }
            partner = new OutputOffset(context("partner-output-offset", shape), specs);
        } else {
            partner = new SkipDelta(context("partner-skip-delta", shape), List.of(ParameterSpec.global(SkipDelta.NAME,
                    new Initializer.Zeros(), HookKind.PARAMETER, false,
                    shape.family() == org.ssmpeft.api.shape.ModelFamily.MAMBA2 ? shape.heads() : shape.dInner())));
        }
        return RandomModels.randomize(partner, 0.3, seed);
    }

    private static AdapterContext<PartnerConfig> context(String name, ModelShape shape) {
        return new AdapterContext<>(name, name, new PartnerConfig(), shape, LayerSelection.ALL);
    }
}
