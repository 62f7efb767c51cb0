package org.ssmpeft.runtime.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;

/**
 * AdamW exactly as PyTorch's {@code torch.optim.AdamW} computes it (single-tensor path, {@code amsgrad=False},
 * {@code maximize=False}), element-wise in float32 with the scalar factors in float64:
 *
 * <pre>
 * t     = t + 1
 * θ     = θ · (1 − lr·λ)                        decoupled decay, before the moments; only where weightDecay
 * m     = fma(1 − β1, g − m, m)                  torch.lerp(m, g, 1 − β1): a fused multiply-add in its CPU kernel
 * v     = fma((1 − β2)·g, g, β2·v)               v.mul_(β2).addcmul_(g, g, value=1 − β2), fused likewise
 * denom = sqrt(v) / sqrt(1 − β2^t) + ε           ε outside the square root
 * θ     = θ + ((−lr / (1 − β1^t)) · m) / denom     θ.addcdiv_(m, denom, value=−step_size), in that order
 * </pre>
 *
 * <p>Against a trace of {@code torch.optim.AdamW} 2.13 on CPU (AVX512; {@code AdamWInteropTest}) the moments agree bit
 * for bit and the parameters within a few ulps: about 1% of the updates round one or two ulps apart (not
 * explained), and the difference is carried into later steps.
 *
 * <p>State, per parameter key: {@code exp_avg} (m) and {@code exp_avg_sq} (v), as PyTorch names them, plus the step
 * count t shared by all parameters (every trainable parameter gets a gradient at every step here).
 */
public final class AdamW {

    /** PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8; HF Trainer's weight decay default is 0. */
    public static final double DEFAULT_BETA1 = 0.9;
    public static final double DEFAULT_BETA2 = 0.999;
    public static final double DEFAULT_EPS = 1e-8;

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, float[]> expAvg = new LinkedHashMap<>();
    private final Map<String, float[]> expAvgSq = new LinkedHashMap<>();
    private long steps;

    public AdamW(double beta1, double beta2, double eps, double weightDecay) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW betas must be in [0, 1), found (" + beta1 + ", " + beta2 + ")");
        }
        if (!(eps >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("AdamW eps and weight decay must be >= 0, found eps " + eps
                    + ", weight decay " + weightDecay);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** With PyTorch's default betas and eps. */
    public static AdamW withWeightDecay(double weightDecay) {
        return new AdamW(DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_EPS, weightDecay);
    }

    public double beta1() {
        return beta1;
    }

    public double beta2() {
        return beta2;
    }

    public double eps() {
        return eps;
    }

    public double weightDecay() {
        return weightDecay;
    }

    /** Steps taken so far (PyTorch's {@code state["step"]}). */
    public long steps() {
        return steps;
    }

    /**
     * One update of every parameter with its gradient, at learning rate {@code lr} times the parameter's
     * {@link TrainableParameter#learningRateScale()} (its parameter group's rate, as torch's AdamW takes one lr per
     * group: the step and the decoupled decay both use it).
     *
     * @param gradients by {@link TrainableParameter#key()}, one per parameter, same length
     */
    public void step(List<TrainableParameter> parameters, Map<String, float[]> gradients, double lr) {
        for (TrainableParameter p : parameters) {
            float[] g = gradients.get(p.key());
            if (g == null || g.length != p.value().size()) {
                throw new IllegalArgumentException("AdamW: no gradient of " + p.value().size() + " values for '"
                        + p.key() + "'" + (g == null ? "" : ", found " + g.length));
            }
        }
        steps++;
        double bias1 = 1 - Math.pow(beta1, steps);
        double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, steps));
        float bias2SqrtF = (float) bias2Sqrt;
        float epsF = (float) eps;
        float oneMinusBeta1 = (float) (1 - beta1);
        float beta2F = (float) beta2;
        float oneMinusBeta2 = (float) (1 - beta2);
        for (TrainableParameter p : parameters) {
            float[] theta = p.value().data();
            float[] g = gradients.get(p.key());
            float[] m = expAvg.computeIfAbsent(p.key(), k -> new float[theta.length]);
            float[] v = expAvgSq.computeIfAbsent(p.key(), k -> new float[theta.length]);
            double groupLr = lr * p.learningRateScale();
            float stepSize = (float) (groupLr / bias1);
            if (p.weightDecay() && weightDecay != 0) {
                float keep = (float) (1 - groupLr * weightDecay);
                for (int i = 0; i < theta.length; i++) {
                    theta[i] *= keep;
                }
            }
            for (int i = 0; i < theta.length; i++) {
                m[i] = Math.fma(oneMinusBeta1, g[i] - m[i], m[i]);
                v[i] = Math.fma(oneMinusBeta2 * g[i], g[i], v[i] * beta2F);
                float denom = (float) Math.sqrt(v[i]) / bias2SqrtF + epsF;
                theta[i] += (-stepSize * m[i]) / denom;
            }
        }
    }

    /** The moments as named tensors: {@code <key>.exp_avg}, {@code <key>.exp_avg_sq} (copies). */
    public Map<String, Tensor> state() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        expAvg.forEach((k, m) -> {
            out.put(k + ".exp_avg", Tensor.of(m.clone(), m.length));
            out.put(k + ".exp_avg_sq", Tensor.of(expAvgSq.get(k).clone(), m.length));
        });
        return out;
    }

    /**
     * Restores what {@link #state()} and {@link #steps()} returned; parameters missing from {@code state} start
     * from zero moments only when {@code steps} is 0.
     */
    public void load(Map<String, Tensor> state, long steps, List<TrainableParameter> parameters) {
        expAvg.clear();
        expAvgSq.clear();
        for (TrainableParameter p : parameters) {
            Tensor m = state.get(p.key() + ".exp_avg");
            Tensor v = state.get(p.key() + ".exp_avg_sq");
            if (m == null || v == null) {
                if (steps == 0) {
                    continue;
                }
                throw new IllegalArgumentException("optimizer state has no moments for '" + p.key() + "' after "
                        + steps + " steps; it has: " + String.join(", ", state.keySet()));
            }
            if (m.size() != p.value().size() || v.size() != p.value().size()) {
                throw new IllegalArgumentException("optimizer state of '" + p.key() + "' has " + m.size() + "/"
                        + v.size() + " values, the parameter has " + p.value().size());
            }
            expAvg.put(p.key(), m.data().clone());
            expAvgSq.put(p.key(), v.data().clone());
        }
        this.steps = steps;
    }
}
