package org.ssmpeft.api.adapter;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.random.RandomGenerator;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Hook;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * One adapter instance: named trainable tensors sized for one model shape, fed to the hooks its subclass implements
 * ({@link org.ssmpeft.api.hooks.StateOffsetHook} and so on).
 *
 * <p>Parameters are allocated at construction as zeros; {@link #initialize} fills them from their
 * {@link Initializer}s. The tensor objects never change, so a backend may hold them across steps.
 */
public abstract class Adapter {

    private final AdapterContext<? extends Record> context;
    private final Map<String, ParameterSpec> specs = new LinkedHashMap<>();
    private final Map<String, Tensor> values = new LinkedHashMap<>();

    protected Adapter(AdapterContext<? extends Record> context, List<ParameterSpec> parameterSpecs) {
        this.context = context;
        for (ParameterSpec s : parameterSpecs) {
            if (specs.putIfAbsent(s.name(), s) != null) {
                throw new IllegalArgumentException("adapter '" + context.name() + "' (" + context.method()
                        + ") declares parameter '" + s.name() + "' twice");
            }
            values.put(s.name(), Tensor.zeros(s.shape()));
        }
    }

    public String name() {
        return context.name();
    }

    /** The provider name of the method that created it ({@code state-offset}, {@code lora}, ...). */
    public String method() {
        return context.method();
    }

    public Record config() {
        return context.config();
    }

    public ModelShape shape() {
        return context.shape();
    }

    public LayerSelection layers() {
        return context.layers();
    }

    protected AdapterContext<? extends Record> context() {
        return context;
    }

    /** The hooks this adapter feeds, from the hook interfaces its class implements. */
    public Set<HookKind> hooks() {
        return Hook.kindsOf(this);
    }

    public List<ParameterSpec> parameterSpecs() {
        return List.copyOf(specs.values());
    }

    /** Trainable tensors by name, in declaration order. */
    public Map<String, Tensor> parameters() {
        return Collections.unmodifiableMap(values);
    }

    /** The tensor named {@code name}; fails naming the parameters that exist. */
    public Tensor parameter(String name) {
        Tensor t = values.get(name);
        if (t == null) {
            throw new IllegalArgumentException("adapter '" + name() + "' (" + method() + ") has no parameter '" + name
                    + "'; it has: " + String.join(", ", values.keySet()));
        }
        return t;
    }

    /** The parameter if it exists (hooks use it for layers that may not be selected). */
    protected Optional<Tensor> parameterIfPresent(String name) {
        return Optional.ofNullable(values.get(name));
    }

    /** The per-layer parameter {@code layers.<layer>.<name>}, empty when {@code layer} is not adapted. */
    protected Optional<Tensor> layerParameter(int layer, String name) {
        return parameterIfPresent("layers." + layer + "." + name);
    }

    public long parameterCount() {
        return specs.values().stream().mapToLong(ParameterSpec::elementCount).sum();
    }

    /** Fills every parameter from its initializer, in declaration order, drawing from {@code rng}. */
    public void initialize(RandomGenerator rng) {
        for (ParameterSpec s : specs.values()) {
            s.initializer().fill(values.get(s.name()), rng);
        }
        refreshDerived();
    }

    /**
     * Recomputes hook values derived from parameters (e.g. prefix tuning's MLP reparameterisation) after the
     * parameters changed. Backends call it before a forward pass; the default has nothing to do.
     */
    public void refreshDerived() {
    }

    /**
     * Maps gradients with respect to the tensors the hooks handed out to gradients with respect to the parameters.
     * The default covers adapters whose hooks hand out their parameters themselves: the gradient of each parameter
     * is the gradient of that very tensor (zeros if no hook used it). Adapters with derived hook values override
     * this to apply the chain rule.
     *
     * @param hookGradients dL/d(value) keyed by the identity of the tensor a hook returned
     * @return dL/dθ by parameter name, one entry per parameter, shaped as the parameter
     */
    public Map<String, Tensor> parameterGradients(IdentityHashMap<Tensor, Tensor> hookGradients) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        values.forEach((n, t) -> out.put(n, Optional.ofNullable(hookGradients.get(t)).orElseGet(
                () -> Tensor.zeros(t.shape()))));
        return out;
    }

    @Override
    public String toString() {
        return name() + " (" + method() + ", " + parameterCount() + " parameters)";
    }
}
