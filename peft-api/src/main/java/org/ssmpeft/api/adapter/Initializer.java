package org.ssmpeft.api.adapter;

import java.util.random.RandomGenerator;
import org.ssmpeft.api.tensor.Tensor;

/**
 * How a trainable parameter starts. The set is closed so that every backend and every saved config can name it.
 */
public sealed interface Initializer {

    /** Fills {@code t} in place. */
    void fill(Tensor t, RandomGenerator rng);

    /** Whether the parameter starts at exactly zero (then an adapter that adds it leaves outputs unchanged). */
    default boolean isZero() {
        return false;
    }

    /** All zeros: the identity start of state-offset, initial-state and LoRA's B. */
    record Zeros() implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            t.fill(0f);
        }

        @Override
        public boolean isZero() {
            return true;
        }
    }

    /** Every element {@code value}. */
    record Constant(float value) implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            t.fill(value);
        }

        @Override
        public boolean isZero() {
            return value == 0f;
        }
    }

    /** N(0, std²) per element. */
    record Normal(double std) implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (rng.nextGaussian() * std);
            }
        }
    }

    /** U(-bound, bound) per element. */
    record Uniform(double bound) implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
            }
        }
    }

    /**
     * Mamba's S4D-real initialisation of a log-decay, shifted: along the last axis, element j is
     * {@code log(offset + 1 + j)}, the same for every row. {@code offset = 0} is Mamba's own {@code A_log = log(1..N)};
     * {@code offset = N} continues it for n' extra state dimensions, {@code log(N+1 .. N+n')}.
     */
    record S4dRealLog(int offset) implements Initializer {
        public S4dRealLog {
            if (offset < 0) {
                throw new IllegalArgumentException("S4D-real offset must be >= 0, found " + offset);
            }
        }

        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            int width = t.rank() == 0 ? 1 : t.dim(t.rank() - 1);
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) Math.log(offset + 1 + i % width);
            }
        }
    }

    /**
     * PyTorch's {@code kaiming_uniform_(w, a)} for a weight of shape (fan_out, fan_in, ...):
     * bound = gain·sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a²)). With a = √5 (nn.Linear's and LoRA A's
     * default) the bound is 1/sqrt(fan_in).
     */
    record KaimingUniform(double a) implements Initializer {
        public static final KaimingUniform LINEAR_DEFAULT = new KaimingUniform(Math.sqrt(5));

        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            if (t.rank() < 2) {
                throw new IllegalArgumentException("Kaiming init needs a weight of rank >= 2, found " + t);
            }
            long fanIn = t.size() / t.dim(0);
            double gain = Math.sqrt(2.0 / (1 + a * a));
            new Uniform(gain * Math.sqrt(3.0 / fanIn)).fill(t, rng);
        }
    }

    /**
     * The row norms {@code ||W[rows]||_c} of the base weight that the parameter's low-rank delta adapts (DoRA's
     * magnitude, which Hugging Face PEFT initialises so). An adapter is created from the model's shape and never sees
     * its weights, so this fills NaN, meaning "not yet set", and the runtime's hook plan sets the norms the first time
     * the adapter acts on a model (a value written before, by a file or by hand, is kept: it is finite).
     */
    record BaseRowNorm() implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            t.fill(Float.NaN);
        }
    }

    /**
     * PiSSA's start of a LoRA factor: A0 or B0, the principal factors of the base rows its low-rank delta adapts
     * ({@link org.ssmpeft.api.hooks.LowRankDelta}'s {@code pissa}). Like {@link BaseRowNorm} it fills NaN, "not yet
     * set", and the runtime's hook plan sets the factor from the base weight's SVD the first time the adapter acts on
     * a model (a value written before, by a file or by hand, is kept).
     */
    record PrincipalFactor() implements Initializer {
        @Override
        public void fill(Tensor t, RandomGenerator rng) {
            t.fill(Float.NaN);
        }
    }
}
