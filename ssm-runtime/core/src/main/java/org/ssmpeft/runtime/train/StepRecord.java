package org.ssmpeft.runtime.train;

/**
 * What one optimiser step did.
 *
 * @param step         steps completed, this one included (1-based)
 * @param epoch        the epoch of the step's first micro-batch
 * @param loss         mean cross-entropy over every target of the step's micro-batches
 * @param learningRate the learning rate the update used
 * @param gradNorm     the global gradient norm before clipping
 * @param tokens       tokens fed (B·T summed over the micro-batches)
 * @param targets      positions with a label that entered the loss
 * @param seconds      wall time of the step
 */
public record StepRecord(int step, int epoch, double loss, double learningRate, double gradNorm, long tokens,
                         long targets, double seconds) {
}
