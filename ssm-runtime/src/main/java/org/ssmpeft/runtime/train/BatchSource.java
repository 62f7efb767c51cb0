package org.ssmpeft.runtime.train;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The training data as the {@link Trainer} reads it: micro-batch number {@code position} of epoch {@code epoch}, a
 * pure function of {@code (seed, epoch, position)}. Nothing else is remembered between calls, so a resumed run that
 * knows where it stopped sees exactly the batches an uninterrupted run would have seen.
 *
 * <p>The trainer walks the micro-batches in order: optimiser step k (0-based) with A accumulation steps reads
 * micro-batches k·A … k·A + A − 1 of the run, micro-batch m being {@code batch(seed, m / batchesPerEpoch(),
 * m % batchesPerEpoch())}. An implementation shuffles per epoch by drawing a permutation from (seed, epoch), e.g.
 * with {@link #permutation}, takes the examples of position {@code position} of it and pads them into a
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

    /**
     * A permutation of {@code 0..n-1} that depends on (seed, epoch) only: Fisher-Yates driven by
     * {@link SplittableRandom} seeded with a mix of both. The same on every JVM and platform.
     */
    static int[] permutation(long seed, int epoch, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        var rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
