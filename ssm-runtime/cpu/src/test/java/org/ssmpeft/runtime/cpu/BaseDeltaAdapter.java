package org.ssmpeft.runtime.cpu;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * A parameter-hook adapter for tests (no built-in method feeds that hook yet): a zero-initialised delta per chosen
 * base tensor, its parameters named as the base tensors ({@code backbone.layers.0.mixer.D}).
 */
final class BaseDeltaAdapter extends Adapter implements ParameterHook {

    record Config() {
    }

    private BaseDeltaAdapter(AdapterContext<Config> context, List<ParameterSpec> specs) {
        super(context, specs);
    }

    /** Deltas for the given base names, shaped as in {@code named}. */
    static BaseDeltaAdapter of(String name, ModelShape shape, Map<String, Tensor> named, Collection<String> bases) {
        List<ParameterSpec> specs = bases.stream().map(b -> ParameterSpec.global(b, new Initializer.Zeros(),
                HookKind.PARAMETER, true, named.get(b).shape())).toList();
        return new BaseDeltaAdapter(new AdapterContext<>(name, "base-delta", new Config(), shape, LayerSelection.ALL),
                specs);
    }

    @Override
    public Optional<Tensor> parameterDelta(String baseName) {
        return parameterIfPresent(baseName);
    }

    @Override
    public java.util.Set<String> parameterDeltaNames() {
        return parameters().keySet();
    }
}
