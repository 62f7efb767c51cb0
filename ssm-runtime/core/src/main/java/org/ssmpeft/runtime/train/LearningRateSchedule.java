package org.ssmpeft.runtime.train;

import java.util.Locale;

/**
 * The learning-rate multiplier per optimiser step, as Hugging Face's schedulers compute it ({@code LambdaLR} over
 * {@code get_constant_schedule_with_warmup}, {@code get_linear_schedule_with_warmup},
 * {@code get_cosine_schedule_with_warmup} with half a cycle). Step s counts updates already taken: the first update
 * uses s = 0, the last of {@code totalSteps} uses s = totalSteps − 1, so a linear decay never reaches 0 in an update.
 *
 * <pre>
 * warm-up  (s &lt; W):  s / max(1, W)
 * constant (s ≥ W):  1
 * linear   (s ≥ W):  max(0, (T − s) / max(1, T − W))
 * cosine   (s ≥ W):  max(0, ½·(1 + cos(π · (s − W) / max(1, T − W))))
 * </pre>
 *
 * @param kind        the shape after warm-up
 * @param warmupSteps W, 0 for none
 * @param totalSteps  T, the run's number of optimiser steps
 */
public record LearningRateSchedule(Kind kind, int warmupSteps, int totalSteps) {

    /** The shape of the schedule after warm-up. */
    public enum Kind {
        CONSTANT, LINEAR, COSINE;

        /** {@code constant}, {@code linear}, {@code cosine} (Hugging Face's lr_scheduler_type names). */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The kind named {@code name} (case-insensitive); fails listing the names. */
        public static Kind parse(String name) {
            for (Kind k : values()) {
                if (k.configName().equalsIgnoreCase(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown learning-rate schedule '" + name
                    + "'; expected constant, linear or cosine");
        }
    }

    public LearningRateSchedule {
        if (kind == null) {
            throw new IllegalArgumentException("learning-rate schedule kind must be given");
        }
        if (warmupSteps < 0 || totalSteps < 1) {
            throw new IllegalArgumentException("learning-rate schedule: warm-up steps must be >= 0 and total steps"
                    + " >= 1, found " + warmupSteps + " and " + totalSteps);
        }
    }

    /** The multiplier of the base learning rate for the update after {@code step} updates. */
    public double factor(long step) {
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        double decaySteps = Math.max(1, totalSteps - warmupSteps);
        return switch (kind) {
            case CONSTANT -> 1.0;
            case LINEAR -> Math.max(0.0, (totalSteps - step) / decaySteps);
            // num_cycles = 0.5: cos(π · 2 · 0.5 · progress) = cos(π · progress)
            case COSINE -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((step - warmupSteps) / decaySteps))));
        };
    }

    /** {@code baseLearningRate · factor(step)}. */
    public double learningRate(double baseLearningRate, long step) {
        return baseLearningRate * factor(step);
    }
}
