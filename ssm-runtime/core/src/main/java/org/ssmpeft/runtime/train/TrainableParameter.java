package org.ssmpeft.runtime.train;

import java.util.Objects;
import java.util.Optional;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.LossAndGradients;

/**
 * One tensor the optimiser updates in place: a parameter of an adapter, or a base weight trained through
 * {@code trainableBaseNames} (full fine-tuning, BitFit).
 *
 * @param key         unique in the run: {@code adapter/<adapter>/<parameter>} or {@code base/<Hugging Face name>};
 *                    checkpoints and the optimiser state are keyed by it
 * @param value       the live tensor (the adapter's own tensor, or a view of the base weight array)
 * @param weightDecay whether AdamW decays it
 * @param adapter     the adapter's name; empty for a base weight
 * @param name        the parameter's name in its adapter, or the base weight's Hugging Face name
 * @param learningRateScale its parameter group's learning rate relative to the run's
 *                    ({@code ParameterSpec.learningRateScale()}: LoRA+'s B; 1 otherwise and for base weights)
 */
public record TrainableParameter(String key, Tensor value, boolean weightDecay, Optional<String> adapter,
                                 String name, double learningRateScale) {

    /** A parameter at the run's learning rate. */
    public TrainableParameter(String key, Tensor value, boolean weightDecay, Optional<String> adapter, String name) {
        this(key, value, weightDecay, adapter, name, 1.0);
    }

    public TrainableParameter {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(adapter, "adapter");
        Objects.requireNonNull(name, "name");
    }

    /** An adapter parameter; decay as its {@code ParameterSpec.weightDecay()} says. */
    public static TrainableParameter ofAdapter(String adapter, String name, Tensor value, boolean weightDecay) {
        return ofAdapter(adapter, name, value, weightDecay, 1.0);
    }

    /** An adapter parameter of a parameter group at {@code learningRateScale} times the run's learning rate. */
    public static TrainableParameter ofAdapter(String adapter, String name, Tensor value, boolean weightDecay,
                                               double learningRateScale) {
        return new TrainableParameter("adapter/" + adapter + "/" + name, value, weightDecay, Optional.of(adapter),
                name, learningRateScale);
    }

    /** A base weight by Hugging Face name, decayed as {@link #baseWeightDecays} says. */
    public static TrainableParameter ofBase(String name, Tensor value) {
        return new TrainableParameter("base/" + name, value, baseWeightDecays(name), Optional.empty(), name);
    }

    /**
     * Whether a base weight is decayed: not biases and norm weights (Hugging Face Trainer's
     * {@code get_decay_parameter_names}), nor {@code A_log} and {@code D} (mamba_ssm marks them
     * {@code _no_weight_decay}); every other weight is.
     */
    public static boolean baseWeightDecays(String name) {
        return !(name.endsWith(".bias") || name.contains("norm") || name.endsWith(".A_log") || name.endsWith(".D"));
    }

    /** This parameter's gradient in a backend's result; fails when the backend did not compute it. */
    public Tensor gradientIn(LossAndGradients g) {
        if (adapter.isPresent()) {
            return g.adapterGradient(adapter.get(), name);
        }
        Tensor t = g.baseGradients().get(name);
        if (t == null) {
            throw new IllegalStateException("the backend returned no gradient for base weight '" + name
                    + "'; it returned: " + String.join(", ", g.baseGradients().keySet()));
        }
        return t;
    }
}
