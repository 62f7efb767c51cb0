package org.ssmpeft.api.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Central finite differences of a scalar loss with respect to chosen tensors, compared with analytic gradients.
 * Engine-neutral: the loss is any {@link DoubleSupplier} that reads the tensors' current values, so it checks a CPU
 * backward, a GPU kernel or a plugin's own chain rule alike.
 *
 * <pre>{@code
 * var result = GradientCheck.of(() -> model.loss(tokens, labels, adapters))
 *         .samples(64, 7)
 *         .check(adapter.parameters(), analyticGradients);
 * assertThat(result.maxRelativeError()).isLessThan(1e-2);
 * }</pre>
 *
 * <p>For each checked element θ_i: {@code g_i ≈ (L(θ_i + h) − L(θ_i − h)) / (θ_i⁺ − θ_i⁻)}, where the perturbed values
 * are rounded to float32 and the divisor is their actual difference (float32-aware: the step that the model really
 * saw). The step is {@code h = step · max(1, |θ_i|)} with {@code step} defaulting to {@link #DEFAULT_STEP} ≈ ∛ε_f32,
 * which balances the O(h²) truncation error against the O(ε·|L| / h) rounding error of a float32 loss. The error
 * reported per tensor is {@code max_i |g_i − analytic_i|}, and the scale {@code max_i max(|g_i|, |analytic_i|)}; their
 * ratio is the relative error.
 *
 * <p>Tensors are restored exactly after each probe. Not thread-safe: the loss must not run concurrently with it.
 */
public final class GradientCheck {

    /** ∛(2⁻²³): the float32 step that minimises truncation plus rounding error of a central difference. */
    public static final double DEFAULT_STEP = Math.cbrt(Math.ulp(1.0f));

    /** One tensor's comparison. */
    public record TensorResult(String name, int checked, double maxAbsError, double maxAbsValue) {
        /** max-abs error / max-abs value (0 when both vanish). */
        public double relativeError() {
            return maxAbsValue == 0 ? (maxAbsError == 0 ? 0 : Double.POSITIVE_INFINITY) : maxAbsError / maxAbsValue;
        }

        /**
         * {@code maxAbsError ≤ absolute + relative · maxAbsValue} (numpy's allclose rule): the absolute part covers the
         * finite-difference noise floor of a float32 loss, which dominates for tensors with tiny gradients.
         */
        public boolean within(double relative, double absolute) {
            return maxAbsError <= absolute + relative * maxAbsValue;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-40s n=%-5d max|err| %.3e  max|g| %.3e  rel %.3e", name, checked,
                    maxAbsError, maxAbsValue, relativeError());
        }
    }

    /** The comparisons of all checked tensors, in the order given. */
    public record Result(List<TensorResult> tensors) {
        public Result {
            tensors = List.copyOf(tensors);
        }

        /** The worst relative error over the tensors. */
        public double maxRelativeError() {
            return tensors.stream().mapToDouble(TensorResult::relativeError).max().orElse(0);
        }

        public TensorResult get(String name) {
            return tensors.stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow(
                    () -> new IllegalArgumentException("no result for '" + name + "'; checked: "
                            + tensors.stream().map(TensorResult::name).toList()));
        }

        @Override
        public String toString() {
            var s = new StringBuilder("gradient check (central differences):");
            tensors.forEach(t -> s.append("\n  ").append(t));
            return s.toString();
        }
    }

    private final DoubleSupplier loss;
    private double step = DEFAULT_STEP;
    private int samples;
    private long seed = 1;

    private GradientCheck(DoubleSupplier loss) {
        this.loss = Objects.requireNonNull(loss, "loss");
    }

    /** A check of {@code loss}, which must read the tensors' current values on every call. */
    public static GradientCheck of(DoubleSupplier loss) {
        return new GradientCheck(loss);
    }

    /** Relative step {@code h / max(1, |θ|)}; default {@link #DEFAULT_STEP}. */
    public GradientCheck step(double relativeStep) {
        if (!(relativeStep > 0)) {
            throw new IllegalArgumentException("step must be > 0, found " + relativeStep);
        }
        this.step = relativeStep;
        return this;
    }

    /** Check at most {@code perTensor} elements of each tensor, chosen at random from {@code seed}; 0 checks all. */
    public GradientCheck samples(int perTensor, long seed) {
        if (perTensor < 0) {
            throw new IllegalArgumentException("samples must be >= 0, found " + perTensor);
        }
        this.samples = perTensor;
        this.seed = seed;
        return this;
    }

    /**
     * Compares the numerical gradient of every tensor in {@code parameters} with {@code analytic} (same names,
     * same shapes).
     */
    public Result check(Map<String, Tensor> parameters, Map<String, Tensor> analytic) {
        var rng = new SplittableRandom(seed);
        List<TensorResult> out = new ArrayList<>();
        for (var e : parameters.entrySet()) {
            String name = e.getKey();
            Tensor p = e.getValue();
            Tensor g = analytic.get(name);
            if (g == null) {
                throw new IllegalArgumentException("no analytic gradient for '" + name + "'; given: "
                        + analytic.keySet());
            }
            if (g.size() != p.size()) {
                throw new IllegalArgumentException("analytic gradient of '" + name + "' has shape "
                        + Tensor.format(g.shape()) + ", the tensor " + Tensor.format(p.shape()));
            }
            int[] indices = indices(p.size(), rng);
            double maxErr = 0;
            double maxVal = 0;
            for (int i : indices) {
                double numeric = numeric(p.data(), i);
                double exact = g.data()[i];
                maxErr = Math.max(maxErr, Math.abs(numeric - exact));
                maxVal = Math.max(maxVal, Math.max(Math.abs(numeric), Math.abs(exact)));
            }
            out.add(new TensorResult(name, indices.length, maxErr, maxVal));
        }
        return new Result(out);
    }

    /** Numerical gradients of the given elements, for callers that compare themselves. */
    public Map<String, float[]> numericGradients(Map<String, Tensor> parameters) {
        Map<String, float[]> out = new LinkedHashMap<>();
        parameters.forEach((name, p) -> {
            float[] g = new float[p.size()];
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) numeric(p.data(), i);
            }
            out.put(name, g);
        });
        return out;
    }

    private double numeric(float[] data, int i) {
        float original = data[i];
        double h = step * Math.max(1.0, Math.abs(original));
        float plus = (float) (original + h);
        float minus = (float) (original - h);
        try {
            data[i] = plus;
            double lp = loss.getAsDouble();
            data[i] = minus;
            double lm = loss.getAsDouble();
            return (lp - lm) / ((double) plus - (double) minus);
        } finally {
            data[i] = original;
        }
    }

    private int[] indices(int size, SplittableRandom rng) {
        if (samples == 0 || samples >= size) {
            int[] all = new int[size];
            for (int i = 0; i < size; i++) {
                all[i] = i;
            }
            return all;
        }
        // a partial Fisher-Yates shuffle: distinct indices
        int[] perm = new int[size];
        for (int i = 0; i < size; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < samples; i++) {
            int j = i + rng.nextInt(size - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return java.util.Arrays.copyOf(perm, samples);
    }
}
