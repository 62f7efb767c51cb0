package org.ssmpeft.api.adapter;

import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.tensor.Tensor;

/**
 * One trainable tensor of an adapter: its name (unique in the adapter, e.g. {@code layers.3.state_offset}), its
 * shape, how it starts, the hook it feeds and the layer it belongs to (empty for model-wide tensors such as prompt
 * embeddings or the head's LoRA).
 *
 * @param weightDecay whether AdamW decays it (the reference code exempts state and offset parameters)
 */
public record ParameterSpec(String name, int[] shape, Initializer initializer, HookKind feeds, OptionalInt layer,
                            boolean weightDecay) {

    public ParameterSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(initializer, "initializer");
        Objects.requireNonNull(feeds, "feeds");
        Objects.requireNonNull(layer, "layer");
        if (name.isBlank()) {
            throw new IllegalArgumentException("parameter name must not be blank");
        }
        shape = shape.clone();
        Tensor.elementCount(shape);
    }

    /** A per-layer parameter. */
    public static ParameterSpec perLayer(int layer, String name, Initializer init, HookKind feeds, boolean decay,
                                         int... shape) {
        return new ParameterSpec("layers." + layer + "." + name, shape, init, feeds, OptionalInt.of(layer), decay);
    }

    /** A model-wide parameter. */
    public static ParameterSpec global(String name, Initializer init, HookKind feeds, boolean decay, int... shape) {
        return new ParameterSpec(name, shape, init, feeds, OptionalInt.empty(), decay);
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return Tensor.elementCount(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterSpec p && name.equals(p.name) && Arrays.equals(shape, p.shape)
                && initializer.equals(p.initializer) && feeds == p.feeds && layer.equals(p.layer)
                && weightDecay == p.weightDecay;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape), initializer, feeds, layer, weightDecay);
    }

    @Override
    public String toString() {
        return name + Tensor.format(shape);
    }
}
