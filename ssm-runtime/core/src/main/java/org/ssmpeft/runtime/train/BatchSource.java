package org.ssmpeft.runtime.train;

import java.util.List;

/**
 * The training data as the {@link Trainer} reads it: micro-batch number {@code position} of epoch {@code epoch}, a
 * pure function of {@code (seed, epoch, position)}. Nothing else is remembered between calls, so a resumed run that
 * knows where it stopped sees exactly the batches an uninterrupted run would have seen.
 *
 * <p>The trainer walks the micro-batches in order: optimiser step k (0-based) with A accumulation steps reads
 * micro-batches k·A … k·A + A − 1 of the run, micro-batch m being {@code batch(seed, m / batchesPerEpoch(),
 * m % batchesPerEpoch())}. An implementation shuffles per epoch by drawing a permutation from (seed, epoch), e.g.
 * with {@link org.ssmpeft.runtime.data.ShuffleOrder#permutation}, takes the examples of position {@code position} of it and pads them into a
 * {@link Batch}; it drops an incomplete last batch (as the reference training does) or pads it, as it likes.
 *
 * <p>Implementations must be deterministic and must not depend on earlier calls; they may be called from one thread
 * only.
 */
public interface BatchSource {

    /** Micro-batches per epoch, at least 1. */
    int batchesPerEpoch();

    /** Micro-batch {@code position} (0 ≤ position &lt; batchesPerEpoch) of epoch {@code epoch} (0-based). */
    Batch batch(long seed, int epoch, int position);

    /** These batches in this order every epoch, whatever the seed (tests, fixed evaluation sets). */
    static BatchSource of(List<Batch> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("a batch source needs at least one batch");
        }
        List<Batch> copy = List.copyOf(batches);
        return new BatchSource() {
            @Override
            public int batchesPerEpoch() {
                return copy.size();
            }

            @Override
            public Batch batch(long seed, int epoch, int position) {
                return copy.get(position);
            }
        };
    }

}
