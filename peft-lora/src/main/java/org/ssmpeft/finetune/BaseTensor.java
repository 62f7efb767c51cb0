package org.ssmpeft.finetune;

import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.tensor.Tensor;

/**
 * One base-model tensor a weight-space method trains through a delta: its Hugging Face name
 * ({@code backbone.layers.3.mixer.D}), its stored shape, its layer (empty for model-wide tensors) and whether AdamW
 * decays it (matrices yes; biases, norms, {@code A_log} and {@code D} no, as mamba_ssm's {@code _no_weight_decay}
 * and Hugging Face's trainer treat them).
 */
public record BaseTensor(String name, int[] shape, OptionalInt layer, boolean weightDecay) {

    public BaseTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(layer, "layer");
        shape = shape.clone();
        Tensor.elementCount(shape);
    }

    /** {@code backbone.layers.<layer>.<suffix>}, e.g. {@code layerName(0, "mixer.D")}. */
    public static String layerName(int layer, String suffix) {
        return "backbone.layers." + layer + "." + suffix;
    }

    static BaseTensor ofLayer(int layer, String suffix, boolean decay, int... shape) {
        return new BaseTensor(layerName(layer, suffix), shape, OptionalInt.of(layer), decay);
    }

    static BaseTensor global(String name, boolean decay, int... shape) {
        return new BaseTensor(name, shape, OptionalInt.empty(), decay);
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** The adapter parameter for this tensor's delta: named as the base tensor, zero at the start. */
    public ParameterSpec deltaSpec() {
        return new ParameterSpec(name, shape, new Initializer.Zeros(), HookKind.PARAMETER, layer, weightDecay);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BaseTensor b && name.equals(b.name) && Arrays.equals(shape, b.shape)
                && layer.equals(b.layer) && weightDecay == b.weightDecay;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape), layer, weightDecay);
    }

    @Override
    public String toString() {
        return name + Tensor.format(shape);
    }
}
