package org.ssmpeft.runtime.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.backend.LossAndGradients;

/**
 * Sums the gradients of several micro-batches into the gradient of their union. Each backend result is a mean over
 * its own {@code targets} positions, so micro-batch i enters with weight n_i / Σn:
 *
 * <pre>
 * loss = Σ n_i·L_i / Σ n_i        ∇ = Σ n_i·∇_i / Σ n_i
 * </pre>
 *
 * which is the loss and gradient of one batch holding all their rows (the mean over all its targets), up to
 * rounding. (Dividing each micro-batch's mean by the number of micro-batches instead, as older Hugging Face Trainer
 * versions do, equals it only when every micro-batch has as many targets.) Sums are kept in float64, so one
 * micro-batch gives back its gradient bit for bit.
 */
public final class GradientAccumulator {

    private final List<TrainableParameter> parameters;
    private final Map<String, double[]> sums = new LinkedHashMap<>();
    private double weightedLoss;
    private long targets;
    private int microBatches;

    public GradientAccumulator(List<TrainableParameter> parameters) {
        this.parameters = List.copyOf(parameters);
        for (TrainableParameter p : this.parameters) {
            sums.put(p.key(), new double[p.value().size()]);
        }
    }

    /** Adds one micro-batch's result (its gradients must be finite; the trainer checks them first). */
    public void add(LossAndGradients g) {
        double n = g.targets();
        for (TrainableParameter p : parameters) {
            float[] grad = p.gradientIn(g).data();
            double[] s = sums.get(p.key());
            for (int i = 0; i < s.length; i++) {
                s[i] += n * grad[i];
            }
        }
        weightedLoss += n * g.loss();
        targets += g.targets();
        microBatches++;
    }

    /** Target positions added so far. */
    public long targets() {
        return targets;
    }

    public int microBatches() {
        return microBatches;
    }

    /** The mean loss over every target added (0 without targets). */
    public double loss() {
        return targets == 0 ? 0 : weightedLoss / targets;
    }

    /** The gradient of that mean, float32, by parameter key (zeros without targets). */
    public Map<String, float[]> gradients() {
        Map<String, float[]> out = new LinkedHashMap<>();
        sums.forEach((k, s) -> {
            float[] g = new float[s.length];
            if (targets > 0) {
                for (int i = 0; i < g.length; i++) {
                    g[i] = (float) (s[i] / targets);
                }
            }
            out.put(k, g);
        });
        return out;
    }

    /** Forgets everything added. */
    public void reset() {
        sums.values().forEach(s -> java.util.Arrays.fill(s, 0));
        weightedLoss = 0;
        targets = 0;
        microBatches = 0;
    }
}
