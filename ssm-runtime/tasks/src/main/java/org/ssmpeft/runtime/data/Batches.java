package org.ssmpeft.runtime.data;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.ssmpeft.runtime.train.BatchSource;

/**
 * Training batches in a seeded order that can be resumed exactly: epoch e visits the examples in
 * {@link ShuffleOrder#permutation}(n, seed, e) (or in file order without shuffling), cut into batches of
 * {@code batchSize}; the last incomplete batch is dropped unless asked otherwise (the paper code drops it). A batch
 * is a pure function of (seed, epoch, index), so a trainer that saved its {@link Position} (or its global step)
 * continues bit for bit.
 *
 * <p>Immutable apart from a cache of the current epoch's order; safe for one thread at a time.
 */
public final class Batches {

    /** Where an epoch-ordered iteration stands: the next batch to produce. */
    public record Position(int epoch, int batch) {

        public Position {
            if (epoch < 0 || batch < 0) {
                throw new IllegalArgumentException("epoch and batch must be >= 0; got " + epoch + ", " + batch);
            }
        }

        public static Position start() {
            return new Position(0, 0);
        }
    }

    private final List<EncodedExample> examples;
    private final int batchSize;
    private final long seed;
    private final boolean shuffle;
    private final boolean dropLast;
    private final Collator collator;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    /**
     * @param examples the encoded data set
     * @param batchSize rows per batch
     * @param seed the shuffling seed (the paper code's default is 42)
     * @param shuffle false visits the examples in order every epoch (evaluation)
     * @param dropLast leave out the last batch when it is smaller than {@code batchSize}
     * @param collator pads the rows
     */
    public Batches(List<EncodedExample> examples, int batchSize, long seed, boolean shuffle, boolean dropLast,
                   Collator collator) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1; got " + batchSize);
        }
        this.examples = List.copyOf(examples);
        this.batchSize = batchSize;
        this.seed = seed;
        this.shuffle = shuffle;
        this.dropLast = dropLast;
        this.collator = collator;
        if (batchesPerEpoch() == 0) {
            throw new IllegalArgumentException("no batch of " + batchSize + " can be made from " + examples.size()
                    + " examples" + (dropLast ? " when the last incomplete batch is dropped" : ""));
        }
    }

    /** Shuffled training batches that drop the last incomplete one, as the paper code trains. */
    public static Batches training(List<EncodedExample> examples, int batchSize, long seed, int padId) {
        return new Batches(examples, batchSize, seed, true, true, new Collator(padId));
    }

    public int batchesPerEpoch() {
        int n = examples.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** The position of a global step counted from 0 (step = epoch * batchesPerEpoch + batch). */
    public Position positionOfStep(long step) {
        int per = batchesPerEpoch();
        return new Position(Math.toIntExact(step / per), (int) (step % per));
    }

    /** The global step of a position. */
    public long stepOf(Position p) {
        return (long) p.epoch() * batchesPerEpoch() + p.batch();
    }

    /** The data-set order of an epoch: indices into the examples. */
    public int[] order(int epoch) {
        if (epoch != cachedEpoch) {
            int n = examples.size();
            cachedOrder = shuffle ? ShuffleOrder.permutation(n, seed, epoch) : identity(n);
            cachedEpoch = epoch;
        }
        return cachedOrder.clone();
    }

    /** The batch at a position. */
    public Batch batch(Position p) {
        if (p.batch() >= batchesPerEpoch()) {
            throw new IllegalArgumentException("batch " + p.batch() + " of an epoch of " + batchesPerEpoch()
                    + " batches");
        }
        if (p.epoch() != cachedEpoch) {
            order(p.epoch());
        }
        int from = p.batch() * batchSize;
        int to = Math.min(from + batchSize, examples.size());
        List<EncodedExample> rows = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            rows.add(examples.get(cachedOrder[i]));
        }
        return collator.collate(rows, p.epoch(), p.batch());
    }

    /** The position after {@code p}: the next batch, or the first of the next epoch. */
    public Position next(Position p) {
        return p.batch() + 1 < batchesPerEpoch() ? new Position(p.epoch(), p.batch() + 1)
                : new Position(p.epoch() + 1, 0);
    }

    /** Batches from {@code start} on, through the epochs without end; the trainer decides when to stop. */
    public Iterator<Batch> from(Position start) {
        return new Iterator<>() {
            private Position at = start;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public Batch next() {
                if (at.epoch() == Integer.MAX_VALUE) {
                    throw new NoSuchElementException();
                }
                Batch b = batch(at);
                at = Batches.this.next(at);
                return b;
            }
        };
    }

    /**
     * These batches as the trainer reads them: batch {@code position} of epoch {@code epoch}, tokens and labels only.
     * The trainer's seed must be the one these batches were shuffled with (a mismatch is refused rather than
     * silently giving another order than the run records).
     */
    public BatchSource asBatchSource() {
        return new BatchSource() {
            @Override
            public int batchesPerEpoch() {
                return Batches.this.batchesPerEpoch();
            }

            @Override
            public org.ssmpeft.runtime.train.Batch batch(long trainerSeed, int epoch, int position) {
                if (shuffle && trainerSeed != seed) {
                    throw new IllegalArgumentException("these batches are shuffled with seed " + seed
                            + " but the trainer runs with seed " + trainerSeed + "; build them with the run's seed");
                }
                Batch b = Batches.this.batch(new Position(epoch, position));
                return new org.ssmpeft.runtime.train.Batch(b.tokens(), b.labels());
            }
        };
    }

    private static int[] identity(int n) {
        int[] o = new int[n];
        for (int i = 0; i < n; i++) {
            o[i] = i;
        }
        return o;
    }
}
