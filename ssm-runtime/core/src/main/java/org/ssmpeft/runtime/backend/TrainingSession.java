package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The optimiser steps of one training run where the model computes: the trainer's one code path over any backend. A
 * step is {@link #beginStep}, one {@link #addMicroBatch} per micro-batch (forward, backward, the gradient's check for
 * non-finite values and its accumulation), then {@link #step}: the accumulated gradient's global norm, clipping, one
 * AdamW update of every trainable tensor and the check of the updated values. Only scalars come back per step (loss,
 * target count, norm, where a value is non-finite); the trainable tensors and AdamW's moments are brought to the
 * host when the caller needs them ({@link #toHost}, {@link #optimizerState}).
 *
 * <p>The arithmetic is the trainer's documented one (train/GradientAccumulator, GradientClipping, AdamW): micro-batch
 * gradients summed in float64 weighted by their targets, AdamW in float32 elementwise with the scalar factors in
 * float64. A backend that keeps the run on its device ({@link SsmModel#residentTraining}) computes the same formulas
 * element for element; it says where its order of summation differs (the global norm's reduction).
 *
 * <p>Not thread-safe: one run at a time. Closing it brings nothing back: call {@link #toHost} first.
 */
public interface TrainingSession extends AutoCloseable {

    /**
     * One tensor the run updates in place (the trainer's {@code TrainableParameter}, backend-neutral).
     *
     * @param key               unique in the run, for messages and the optimiser state
     * @param value             the live tensor on the host
     * @param weightDecay       whether AdamW decays it
     * @param learningRateScale its parameter group's learning rate relative to the run's
     * @param adapter           its adapter's name; empty for a base weight
     * @param name              its name in its adapter, or the base weight's Hugging Face name
     */
    record Trainable(String key, Tensor value, boolean weightDecay, double learningRateScale,
                     Optional<String> adapter, String name) {
        public Trainable {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(value, "value");
            Objects.requireNonNull(adapter, "adapter");
            Objects.requireNonNull(name, "name");
        }
    }

    /**
     * What a run trains and AdamW's hyperparameters.
     *
     * @param trainables         in update order
     * @param trainableBaseNames base weights trained (Hugging Face names); empty for adapters only
     */
    record Settings(List<Trainable> trainables, Set<String> trainableBaseNames, double beta1, double beta2,
                    double eps, double weightDecay) {
        public Settings {
            trainables = List.copyOf(trainables);
            trainableBaseNames = Set.copyOf(trainableBaseNames);
        }
    }

    /** A non-finite value: element {@code element} of trainable {@code trainable} (its index in the settings). */
    record NonFinite(int trainable, int element, float value) {
    }

    /**
     * One micro-batch's result.
     *
     * @param loss              its mean loss over its targets
     * @param targets           its target positions
     * @param nonFiniteGradient the first non-finite element of its gradient, in trainable order, if any
     */
    record MicroBatch(double loss, int targets, Optional<NonFinite> nonFiniteGradient) {
    }

    /**
     * One optimiser step's result.
     *
     * @param loss           the mean loss over every target of the step's micro-batches
     * @param targets        those targets
     * @param norm           the global norm of the accumulated gradient before clipping
     * @param nonFiniteValue the first non-finite updated value, if any (the tensors are then no longer valid)
     */
    record Update(double loss, long targets, double norm, Optional<NonFinite> nonFiniteValue) {
    }

    /** Where the run computes, for messages: {@code host} or the backend's device. */
    String where();

    /** Starts an optimiser step: forgets the gradients accumulated so far. */
    void beginStep();

    /** Forward and backward of one micro-batch of fresh sequences; its gradient checked and accumulated. */
    MicroBatch addMicroBatch(int[][] tokens, int[][] labels);

    /**
     * The step: gradient = Σ n_i·∇_i / Σ n_i; its global norm; clipped to {@code maxGradNorm} when that is > 0;
     * AdamW at learning rate {@code lr} (times each tensor's scale); the updated values checked.
     */
    Update step(double lr, double maxGradNorm);

    /** The trainable tensors on the host hold the run's current values (a no-op where they are computed there). */
    void toHost();

    /** The trainable tensors on the host were changed (a resume loaded them): the run takes them from there. */
    void valuesChanged();

    /** Optimiser steps taken (PyTorch's {@code state["step"]}). */
    long optimizerSteps();

    /** AdamW's moments as {@code train.AdamW#state()} names them ({@code <key>.exp_avg}, {@code <key>.exp_avg_sq}). */
    Map<String, Tensor> optimizerState();

    /** Restores moments and step count (already checked against the trainables, as {@code AdamW.load} does). */
    void loadOptimizer(Map<String, Tensor> state, long steps);

    /** Frees what the session holds where it computes. */
    @Override
    void close();
}
