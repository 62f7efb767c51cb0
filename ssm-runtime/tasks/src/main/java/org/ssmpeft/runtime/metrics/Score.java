package org.ssmpeft.runtime.metrics;

import java.util.Objects;

/**
 * One number a metric produced, as a training loop sees it: {@code evaluate every N steps, keep the best checkpoint
 * and stop early on a named score}. Names follow HF {@code evaluate}'s keys where the paper used it ({@code accuracy},
 * {@code f1}, {@code matthews_correlation}, {@code rouge1}, {@code rougeLsum}, {@code bleu}...).
 *
 * @param name            the metric's key, e.g. {@code rougeL}
 * @param value           the value on the metric's own scale (fractions in [0, 1], except sacreBLEU's 0-100)
 * @param higherIsBetter  false for losses and error rates
 */
public record Score(String name, double value, boolean higherIsBetter) {

    public Score {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("a score needs a name, e.g. 'accuracy'");
        }
    }

    /** A score where higher is better (every metric of this package). */
    public static Score of(String name, double value) {
        return new Score(name, value, true);
    }

    /** A score where lower is better (a loss, an error rate). */
    public static Score lowerIsBetter(String name, double value) {
        return new Score(name, value, false);
    }

    /**
     * Whether this score improves on {@code other}, strictly (a tie is no improvement, so early stopping counts it as
     * patience used). NaN never improves on anything, and anything that is not NaN improves on NaN.
     *
     * @throws IllegalArgumentException when the two are different metrics
     */
    public boolean betterThan(Score other) {
        if (!name.equals(other.name) || higherIsBetter != other.higherIsBetter) {
            throw new IllegalArgumentException("cannot compare score '" + name + "' with score '" + other.name
                    + "'; compare values of one metric");
        }
        if (Double.isNaN(value)) {
            return false;
        }
        if (Double.isNaN(other.value)) {
            return true;
        }
        return higherIsBetter ? value > other.value : value < other.value;
    }
}
