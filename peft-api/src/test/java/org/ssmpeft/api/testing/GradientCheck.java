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
 * backward, a GPU kernel or a plugin's own chain rule alike. Two kinds of check:
 *
 * <h2>Directional derivatives ({@link #checkDirections}): the strong one</h2>
 *
 * <pre>{@code
 * var result = GradientCheck.of(() -> model.loss(tokens, labels, adapters))
 *         .checkDirections(adapter.parameters(), analyticGradients);
 * assertThat(result.failures(5e-3)).isEmpty();
 * }</pre>
 *
 * <p>Along a unit direction v over the elements of a <em>scope</em> (every tensor jointly, or one tensor), the central
 * difference {@code (L(θ + hv) − L(θ − hv)) / 2h} must equal {@code ⟨g, v⟩} within {@code relative · |g|·|v|} plus a
 * noise floor. Directions: {@code v = g/|g|} (a sign flip of g reads −|g|, a gradient scaled by 0.95 reads 0.95·|g|:
 * a relative error of 2 and of 0.05, whatever the number of elements), and a few seeded Gaussian directions (errors
 * orthogonal to g; their power falls with the square root of the scope's size). Scopes: all tensors together, and
 * each tensor on its own (so that a wrong gradient in a small tensor is not hidden by a large one).
 *
 * <ul>
 *   <li><b>Float32-aware</b>: the perturbed values θ± are rounded to float32 as the model sees them, and the
 *       analytic side is {@code Σ g_i (θ⁺_i − θ⁻_i) / 2h}, the derivative along the step actually taken.</li>
 *   <li><b>Step</b>: chosen per scope S from the loss, not from the parameters alone: {@code h = lossChange ·
 *       max(1, |L|) / |g_S|}, the step whose first-order change of the loss is {@link #lossChange} (default
 *       {@value #DEFAULT_LOSS_CHANGE}) of the loss, held within {@link #directionalStepRange} times the scope's
 *       parameter scale {@code max(|θ_S|, √n_S)} (L2 norm over its n_S elements; at least 1 per element, since
 *       deltas and offsets near zero still move the model on its own scale). Then the noise floor is the same
 *       fraction of |g| for every scope ({@code 3 · lossNoise / lossChange} ≈ 1.4e-3 by default), and the truncation
 *       error stays small where the loss is steep. A fixed relative step of 1e-3 of the parameter scale, tried first
 *       on the random Mamba models of ssm-runtime's numeric contract, erred by 2% on a steep x_proj delta (truncation)
 *       and could not see the small gradients of an additional scan's a' at all (noise); this rule stays within
 *       4e-4 |g| wherever the step is not capped. Scopes with very small gradients take the largest step
 *       ({@value #DEFAULT_MAX_DIRECTIONAL_STEP}: with 0.1, one such step erred by 6e-3 |g| from truncation on the
 *       contract's slow sweep), and have a higher floor ({@link Directional#resolves}).</li>
 *   <li><b>Richardson extrapolation</b> (default on): {@code (4·D(h/2) − D(h)) / 3} cancels the O(h²) truncation
 *       error of the central difference D, leaving O(h⁴), at the price of 3 times the rounding noise and four loss
 *       evaluations per check instead of two.</li>
 *   <li><b>Noise floor</b>: a float32 loss L carries a rounding noise of about {@code lossNoise · max(1, |L|)}
 *       ({@link #lossNoise}), which a difference divides by the step: the floor is
 *       {@code a · lossNoise · max(1, |L|) / h}, with a = 3 with Richardson extrapolation and 1 without. A check whose
 *       floor exceeds {@code relative · |g||v|} cannot resolve a relative error of that size ({@link
 *       Directional#resolves}); it still runs, and still fails on an error above its floor.</li>
 * </ul>
 *
 * <h2>Element-wise ({@link #check}): the old, weak one</h2>
 *
 * <p>For each checked element θ_i: {@code g_i ≈ (L(θ_i + h) − L(θ_i − h)) / (θ_i⁺ − θ_i⁻)}, where the perturbed values
 * are rounded to float32 and the divisor is their actual difference (float32-aware: the step that the model really
 * saw). The step is {@code h = step · max(1, |θ_i|)} with {@code step} defaulting to {@link #DEFAULT_STEP} ≈ ∛ε_f32,
 * which balances the O(h²) truncation error against the O(ε·|L| / h) rounding error of a float32 loss. The error
 * reported per tensor is {@code max_i |g_i − analytic_i|}, and the scale {@code max_i max(|g_i|, |analytic_i|)}; their
 * ratio is the relative error. Sampling a few elements per tensor against a max-abs scale is blind to sign flips of
 * tensors with small gradients; prefer the directional check.
 *
 * <p>Tensors are restored exactly after each probe. Not thread-safe: the loss must not run concurrently with it.
 */
public final class GradientCheck {

    /** ∛(2⁻²³): the float32 step that minimises truncation plus rounding error of a central difference. */
    public static final double DEFAULT_STEP = Math.cbrt(Math.ulp(1.0f));

    /** The first-order change of the loss along a directional step, h·|g|, relative to max(1, |L|). */
    public static final double DEFAULT_LOSS_CHANGE = 1e-3;

    /** Smallest relative step of the directional checks, {@code h / max(|θ_S|, √n_S)}. */
    public static final double DEFAULT_MIN_DIRECTIONAL_STEP = 1e-6;

    /** Largest relative step of the directional checks, taken by scopes with small gradients. */
    public static final double DEFAULT_MAX_DIRECTIONAL_STEP = 5e-2;

    /** Relative rounding noise of a float32 loss assumed by the directional checks' floor: 2⁻²¹ ≈ 4.8e-7. */
    public static final double DEFAULT_LOSS_NOISE = 0x1p-21;

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

    /** The scope name of the check over every tensor together. */
    public static final String ALL = "(all)";

    /** The direction name of {@code v = g/|g|}. */
    public static final String ALONG_GRADIENT = "g/|g|";

    /**
     * One directional-derivative comparison.
     *
     * @param scope      {@link #ALL} or a tensor's name
     * @param direction  {@link #ALONG_GRADIENT} or {@code random k}
     * @param elements   elements in the scope
     * @param step       h, the L2 length of the (larger) step
     * @param numeric    the central difference along v (Richardson-extrapolated when on)
     * @param analytic   ⟨g, v⟩ along the steps actually taken (float32-rounded)
     * @param gradient   |g| over the scope
     * @param directionNorm |v| (1: directions are unit vectors)
     * @param noiseFloor the float32 rounding part of the tolerance, {@code a · lossNoise · max(1, |L|) / h}
     */
    public record Directional(String scope, String direction, int elements, double step, double numeric,
                              double analytic, double gradient, double directionNorm, double noiseFloor) {

        /** |g|·|v|: the scale errors are measured against. */
        public double scale() {
            return gradient * directionNorm;
        }

        public double error() {
            return Math.abs(numeric - analytic);
        }

        /** |numeric − analytic| / (|g||v|) (0 when both vanish). */
        public double relativeError() {
            double s = scale();
            return s == 0 ? (error() == 0 ? 0 : Double.POSITIVE_INFINITY) : error() / s;
        }

        /** {@code |numeric − analytic| ≤ relative · |g||v| + noiseFloor}. */
        public boolean within(double relative) {
            return error() <= relative * scale() + noiseFloor;
        }

        /**
         * Whether the noise floor is at most {@code relative · |g||v|}, so that the check sees every relative error of
         * the gradient (along v) above {@code 2 · relative}.
         */
        public boolean resolves(double relative) {
            return noiseFloor <= relative * scale();
        }

        /** The name of the check: scope and direction. */
        public String name() {
            return scope + " along " + direction;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-34s %-9s n=%-5d FD %+.6e  <g,v> %+.6e  |g||v| %.3e  rel %.2e"
                            + "  floor/|g||v| %.1e", scope, direction, elements, numeric, analytic, scale(),
                    relativeError(), scale() == 0 ? Double.POSITIVE_INFINITY : noiseFloor / scale());
        }
    }

    /** All directional comparisons of one call, joint scope first, then per tensor in the order given. */
    public record DirectionalResult(double loss, List<Directional> checks) {
        public DirectionalResult {
            checks = List.copyOf(checks);
        }

        /** The checks with {@code |numeric − analytic| > relative · |g||v| + noiseFloor}. */
        public List<Directional> failures(double relative) {
            return checks.stream().filter(c -> !c.within(relative)).toList();
        }

        /** The checks whose noise floor is above {@code relative · |g||v|} (see {@link Directional#resolves}). */
        public List<Directional> unresolved(double relative) {
            return checks.stream().filter(c -> !c.resolves(relative)).toList();
        }

        /** The worst relative error over the checks that resolve {@code relative}. */
        public double maxRelativeError(double relative) {
            return checks.stream().filter(c -> c.resolves(relative)).mapToDouble(Directional::relativeError).max()
                    .orElse(0);
        }

        /** The check over {@code scope} ({@link #ALL} or a tensor) along {@code direction}. */
        public Directional get(String scope, String direction) {
            return checks.stream().filter(c -> c.scope().equals(scope) && c.direction().equals(direction))
                    .findFirst().orElseThrow(() -> new IllegalArgumentException("no check of '" + scope + "' along '"
                            + direction + "'; checked: " + checks.stream().map(Directional::name).toList()));
        }

        /** The check over {@code scope} along g/|g|. */
        public Directional alongGradient(String scope) {
            return get(scope, ALONG_GRADIENT);
        }

        @Override
        public String toString() {
            var s = new StringBuilder(String.format(Locale.ROOT,
                    "gradient check (directional central differences, L = %.6f):", loss));
            checks.forEach(c -> s.append("\n  ").append(c));
            return s.toString();
        }
    }

    private final DoubleSupplier loss;
    private double step = DEFAULT_STEP;
    private int samples;
    private long seed = 1;

    private double lossChange = DEFAULT_LOSS_CHANGE;
    private double minDirectionalStep = DEFAULT_MIN_DIRECTIONAL_STEP;
    private double maxDirectionalStep = DEFAULT_MAX_DIRECTIONAL_STEP;
    private boolean richardson = true;
    private double lossNoise = DEFAULT_LOSS_NOISE;
    private int randomDirections = 2;
    private int randomDirectionsPerTensor = 2;
    private long directionSeed = 1;
    private boolean perTensor = true;

    private GradientCheck(DoubleSupplier loss) {
        this.loss = Objects.requireNonNull(loss, "loss");
    }

    /** A check of {@code loss}, which must read the tensors' current values on every call. */
    public static GradientCheck of(DoubleSupplier loss) {
        return new GradientCheck(loss);
    }

    /** Relative step {@code h / max(1, |θ|)} of the element-wise check; default {@link #DEFAULT_STEP}. */
    public GradientCheck step(double relativeStep) {
        this.step = positive("step", relativeStep);
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
     * The first-order change of the loss that sets a directional step: {@code h = change · max(1, |L|) / |g_S|}
     * (within {@link #directionalStepRange}); default {@value #DEFAULT_LOSS_CHANGE}. The noise floor relative to |g|
     * is then {@code a · lossNoise / change}; truncation grows with the fourth power of the change (with Richardson
     * extrapolation).
     */
    public GradientCheck lossChange(double change) {
        this.lossChange = positive("loss change", change);
        return this;
    }

    /**
     * The range of a directional step relative to the scope's parameter scale, {@code h / max(|θ_S|, √n_S)}; default
     * [{@value #DEFAULT_MIN_DIRECTIONAL_STEP}, {@value #DEFAULT_MAX_DIRECTIONAL_STEP}]. Scopes with small gradients
     * take the largest step and still cannot reach the loss change: their floor is above the usual one.
     */
    public GradientCheck directionalStepRange(double min, double max) {
        positive("smallest directional step", min);
        positive("largest directional step", max);
        if (min > max) {
            throw new IllegalArgumentException("smallest directional step " + min + " > largest " + max);
        }
        this.minDirectionalStep = min;
        this.maxDirectionalStep = max;
        return this;
    }

    /** Whether directional checks extrapolate from steps h and h/2 (Richardson); default on. */
    public GradientCheck richardson(boolean on) {
        this.richardson = on;
        return this;
    }

    /**
     * The relative rounding noise of the loss, {@code noise / max(1, |L|)}, that sets the directional checks' floor;
     * default {@link #DEFAULT_LOSS_NOISE}. A loss reduced in float32 (PyTorch) is noisier than one summed in double.
     */
    public GradientCheck lossNoise(double relative) {
        if (!(relative >= 0)) {
            throw new IllegalArgumentException("loss noise must be >= 0, found " + relative);
        }
        this.lossNoise = relative;
        return this;
    }

    /** {@code count} seeded Gaussian directions per scope besides g/|g|; default 2, seed 1. */
    public GradientCheck randomDirections(int count, long seed) {
        return randomDirections(count, count, seed);
    }

    /** {@code joint} Gaussian directions for the joint scope and {@code perTensor} for each tensor's. */
    public GradientCheck randomDirections(int joint, int perTensor, long seed) {
        if (joint < 0 || perTensor < 0) {
            throw new IllegalArgumentException("random directions must be >= 0, found " + joint + " and " + perTensor);
        }
        this.randomDirections = joint;
        this.randomDirectionsPerTensor = perTensor;
        this.directionSeed = seed;
        return this;
    }

    /** Whether every tensor is also checked on its own (default on); the joint check always runs. */
    public GradientCheck perTensor(boolean on) {
        this.perTensor = on;
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
            Tensor g = gradientOf(name, p, analytic);
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

    /**
     * Directional derivatives of the loss against {@code analytic} (same names, same shapes as {@code parameters}):
     * over all tensors jointly, then (when {@link #perTensor} is on and there is more than one tensor) over each
     * tensor, along g/|g| and {@link #randomDirections} Gaussian directions each. A scope whose analytic gradient is
     * all zero has no g/|g| check; its random directions then compare the differences with 0 (within the floor).
     */
    public DirectionalResult checkDirections(Map<String, Tensor> parameters, Map<String, Tensor> analytic) {
        List<String> names = new ArrayList<>(parameters.keySet());
        List<float[]> data = new ArrayList<>();
        List<float[]> grads = new ArrayList<>();
        for (String name : names) {
            Tensor p = parameters.get(name);
            data.add(p.data());
            grads.add(gradientOf(name, p, analytic).data());
        }
        double l0 = loss.getAsDouble();
        var rng = new SplittableRandom(directionSeed);
        List<Directional> out = new ArrayList<>();
        List<Integer> everything = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            everything.add(i);
        }
        scope(ALL, everything, data, grads, l0, randomDirections, rng, out);
        if (perTensor && names.size() > 1) {
            for (int i = 0; i < names.size(); i++) {
                scope(names.get(i), List.of(i), data, grads, l0, randomDirectionsPerTensor, rng, out);
            }
        }
        return new DirectionalResult(l0, out);
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

    // --- directional ---

    private void scope(String name, List<Integer> members, List<float[]> data, List<float[]> grads, double l0,
                       int randomDirections, SplittableRandom rng, List<Directional> out) {
        int n = 0;
        double thetaSq = 0;
        double gSq = 0;
        for (int m : members) {
            n += data.get(m).length;
            for (float x : data.get(m)) {
                thetaSq += (double) x * x;
            }
            for (float x : grads.get(m)) {
                gSq += (double) x * x;
            }
        }
        double gNorm = Math.sqrt(gSq);
        double parameterScale = Math.max(Math.sqrt(thetaSq), Math.sqrt(n));
        double lossScale = Math.max(1, Math.abs(l0));
        // the step whose first-order change of the loss, h·|g|, is lossChange·max(1, |L|), within the allowed range
        double h = gNorm > 0 ? lossChange * lossScale / gNorm : Double.POSITIVE_INFINITY;
        h = Math.min(maxDirectionalStep * parameterScale, Math.max(minDirectionalStep * parameterScale, h));
        double amplification = (richardson ? 3 : 1) * lossNoise * lossScale;
        double floor = amplification / h;
        if (gNorm > 0) {
            List<double[]> v = new ArrayList<>();
            for (int m : members) {
                float[] g = grads.get(m);
                double[] d = new double[g.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = g[i] / gNorm;
                }
                v.add(d);
            }
            out.add(directional(name, ALONG_GRADIENT, n, members, v, data, grads, h, gNorm, floor));
        }
        for (int k = 1; k <= randomDirections; k++) {
            List<double[]> v = new ArrayList<>();
            double sq = 0;
            for (int m : members) {
                double[] d = new double[data.get(m).length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = rng.nextGaussian();
                    sq += d[i] * d[i];
                }
                v.add(d);
            }
            double norm = Math.sqrt(sq);
            for (double[] d : v) {
                for (int i = 0; i < d.length; i++) {
                    d[i] /= norm;
                }
            }
            out.add(directional(name, "random " + k, n, members, v, data, grads, h, gNorm, floor));
        }
    }

    private Directional directional(String scope, String direction, int n, List<Integer> members, List<double[]> v,
                                    List<float[]> data, List<float[]> grads, double h, double gNorm, double floor) {
        double[] big = central(members, v, data, grads, h);
        double numeric = big[0];
        double analytic = big[1];
        if (richardson) {
            double[] small = central(members, v, data, grads, h / 2);
            numeric = (4 * small[0] - big[0]) / 3;
            analytic = (4 * small[1] - big[1]) / 3;
        }
        return new Directional(scope, direction, n, h, numeric, analytic, gNorm, 1.0, floor);
    }

    /** {(L(θ⁺) − L(θ⁻)) / 2h, Σ g (θ⁺ − θ⁻) / 2h} with θ± = fl32(θ ± h v); the tensors are restored. */
    private double[] central(List<Integer> members, List<double[]> v, List<float[]> data, List<float[]> grads,
                             double h) {
        List<float[]> originals = new ArrayList<>();
        List<float[]> plus = new ArrayList<>();
        for (int j = 0; j < members.size(); j++) {
            float[] d = data.get(members.get(j));
            originals.add(d.clone());
            float[] p = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                p[i] = (float) (d[i] + h * v.get(j)[i]);
            }
            plus.add(p);
        }
        try {
            double analytic = 0;
            for (int j = 0; j < members.size(); j++) {
                float[] d = data.get(members.get(j));
                float[] o = originals.get(j);
                float[] p = plus.get(j);
                float[] g = grads.get(members.get(j));
                for (int i = 0; i < d.length; i++) {
                    float minus = (float) (o[i] - h * v.get(j)[i]);
                    analytic += g[i] * ((double) p[i] - (double) minus);
                    d[i] = p[i];
                }
            }
            double lp = loss.getAsDouble();
            for (int j = 0; j < members.size(); j++) {
                float[] d = data.get(members.get(j));
                float[] o = originals.get(j);
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) (o[i] - h * v.get(j)[i]);
                }
            }
            double lm = loss.getAsDouble();
            return new double[] {(lp - lm) / (2 * h), analytic / (2 * h)};
        } finally {
            for (int j = 0; j < members.size(); j++) {
                float[] o = originals.get(j);
                System.arraycopy(o, 0, data.get(members.get(j)), 0, o.length);
            }
        }
    }

    // --- element-wise ---

    private static Tensor gradientOf(String name, Tensor p, Map<String, Tensor> analytic) {
        Tensor g = analytic.get(name);
        if (g == null) {
            throw new IllegalArgumentException("no analytic gradient for '" + name + "'; given: " + analytic.keySet());
        }
        if (g.size() != p.size()) {
            throw new IllegalArgumentException("analytic gradient of '" + name + "' has shape "
                    + Tensor.format(g.shape()) + ", the tensor " + Tensor.format(p.shape()));
        }
        return g;
    }

    private static double positive(String what, double value) {
        if (!(value > 0)) {
            throw new IllegalArgumentException(what + " must be > 0, found " + value);
        }
        return value;
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
