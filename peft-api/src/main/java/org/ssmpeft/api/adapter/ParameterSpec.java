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
 * @param weightDecay       whether AdamW decays it (the reference code exempts state and offset parameters)
 * @param learningRateScale the parameter's learning rate is the run's times this (its parameter group's rate; LoRA+
 *                          trains B faster than A); 1 for nearly everything
 */
public record ParameterSpec(String name, int[] shape, Initializer initializer, HookKind feeds, OptionalInt layer,
                            boolean weightDecay, double learningRateScale) {

    /** A parameter at the run's learning rate. */
    public ParameterSpec(String name, int[] shape, Initializer initializer, HookKind feeds, OptionalInt layer,
                         boolean weightDecay) {
        this(name, shape, initializer, feeds, layer, weightDecay, 1.0);
    }

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
        if (!(learningRateScale > 0) || Double.isInfinite(learningRateScale)) {
            throw new IllegalArgumentException("parameter '" + name + "': the learning-rate scale must be a finite"
                    + " number > 0, found " + learningRateScale);
        }
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
                && weightDecay == p.weightDecay && learningRateScale == p.learningRateScale;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape), initializer, feeds, layer, weightDecay, learningRateScale);
    }

    @Override
    public String toString() {
        return name + Tensor.format(shape);
    }
}
