package org.ssmpeft.finetune;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The adapter of every weight-space method here (bitfit, partial-ft, full-ft): one delta per chosen base tensor,
 * named as that tensor, so {@code θ = θ_base + Δθ}. Saved, its tensors are keyed
 * {@code base_model.model.<Hugging Face name>}.
 */
public final class ParameterDeltas extends Adapter implements ParameterHook {

    public ParameterDeltas(AdapterContext<? extends Record> context, List<ParameterSpec> specs) {
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
