package org.ssmpeft.runtime.train;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.TrainingSession;

/**
 * The trainer's steps on the host, for a backend without {@link SsmModel#residentTraining}: every micro-batch's
 * gradients come back from {@link SsmModel#lossAndGradients} (logits left out), are checked, summed by
 * {@link GradientAccumulator}, clipped by {@link GradientClipping} and applied by {@link AdamW}, all on the host
 * tensors themselves.
 */
final class HostTrainingSession implements TrainingSession {

    private final Supplier<SsmModel> model;
    private final AdapterSet adapters;
    private final Set<String> baseNames;
    private final List<TrainableParameter> parameters;
    private final AdamW optimizer;
    private final GradientAccumulator accumulator;

    /** @param model the model of the moment (the trainer rebuilds it when base weights change) */
    HostTrainingSession(Supplier<SsmModel> model, AdapterSet adapters, Set<String> baseNames,
                        List<TrainableParameter> parameters, AdamW optimizer) {
        this.model = model;
        this.adapters = adapters;
        this.baseNames = baseNames;
        this.parameters = parameters;
        this.optimizer = optimizer;
        this.accumulator = new GradientAccumulator(parameters);
    }

    @Override
    public String where() {
        return "host";
    }

    @Override
    public void beginStep() {
        accumulator.reset();
    }

    @Override
    public MicroBatch addMicroBatch(int[][] tokens, int[][] labels) {
        LossAndGradients g = model.get().lossAndGradients(tokens, labels, adapters, baseNames, false);
        if (!Double.isFinite(g.loss())) {
            return new MicroBatch(g.loss(), g.targets(), Optional.empty());
        }
        for (int k = 0; k < parameters.size(); k++) {
            float[] grad = parameters.get(k).gradientIn(g).data();
            int bad = firstNonFinite(grad);
            if (bad >= 0) {
                return new MicroBatch(g.loss(), g.targets(), Optional.of(new NonFinite(k, bad, grad[bad])));
            }
        }
        accumulator.add(g);
        return new MicroBatch(g.loss(), g.targets(), Optional.empty());
    }

    @Override
    public Update step(double lr, double maxGradNorm) {
        Map<String, float[]> grads = accumulator.gradients();
        double norm = maxGradNorm > 0 ? GradientClipping.clipByGlobalNorm(grads.values(), maxGradNorm)
                : GradientClipping.globalNorm(grads.values());
        optimizer.step(parameters, grads, lr);
        Optional<NonFinite> bad = Optional.empty();
        for (int k = 0; k < parameters.size() && bad.isEmpty(); k++) {
            float[] v = parameters.get(k).value().data();
            int at = firstNonFinite(v);
            if (at >= 0) {
                bad = Optional.of(new NonFinite(k, at, v[at]));
            }
        }
        return new Update(accumulator.loss(), accumulator.targets(), norm, bad);
    }

    static int firstNonFinite(float[] a) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public void toHost() {
    }

    @Override
    public void valuesChanged() {
    }

    @Override
    public long optimizerSteps() {
        return optimizer.steps();
    }

    @Override
    public Map<String, Tensor> optimizerState() {
        return optimizer.state();
    }

    @Override
    public void loadOptimizer(Map<String, Tensor> state, long steps) {
        optimizer.load(state, steps, parameters);
    }

    @Override
    public void close() {
    }
}
