package org.ssmpeft.examples.bundled;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.ssmpeft.examples.tasks.BundledTask;
import org.ssmpeft.examples.tasks.BundledTasks;
import org.ssmpeft.examples.tasks.TaskFiles;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.train.Batch;
import org.ssmpeft.runtime.train.BatchSource;

/**
 * The bundled base model's pre-training text, generated on the fly and deterministic: row {@code r} of micro-batch
 * {@code (epoch, position)} is drawn from its own random stream of {@code (seed, epoch, position, r)}.
 *
 * <p>A row is, with probability {@value #GENERIC_SHARE}, generic sentences about the tasks' worlds joined by spaces
 * up to about {@value #GENERIC_BYTES} bytes; otherwise one example of a bundled task (the three equally often) in its
 * prompt format, drawn from the pre-training part of the task (a subset of its templates,
 * {@link BundledTask#draw}) and never from the held-out bucket ({@link TaskFiles#heldOut}): evaluation items are
 * never in the pre-training text. The loss is on every token (language modelling), prompt included.
 */
public final class PretrainCorpus implements BatchSource {

    public static final double GENERIC_SHARE = 0.3;
    public static final int GENERIC_BYTES = 120;

    private final Tokenizer tokenizer;
    private final List<BundledTask> tasks;
    private final List<Encoder> encoders;
    private final int batchSize;
    private final int batchesPerEpoch;

    public PretrainCorpus(Tokenizer tokenizer, int batchSize, int batchesPerEpoch) {
        this.tokenizer = tokenizer;
        this.tasks = BundledTasks.ALL;
        this.encoders = tasks.stream().map(t -> new Encoder(tokenizer, t.format())).toList();
        this.batchSize = batchSize;
        this.batchesPerEpoch = batchesPerEpoch;
    }

    @Override
    public int batchesPerEpoch() {
        return batchesPerEpoch;
    }

    @Override
    public Batch batch(long seed, int epoch, int position) {
        int[][] rows = new int[batchSize][];
        for (int r = 0; r < batchSize; r++) {
            long s = seed * 0x9E3779B97F4A7C15L + ((long) epoch * batchesPerEpoch + position) * 131L + r;
            rows[r] = row(new SplittableRandom(s));
        }
        int width = Arrays.stream(rows).mapToInt(a -> a.length).max().orElseThrow();
        int pad = tokenizer.requirePad();
        int[][] tokens = new int[batchSize][width];
        int[][] labels = new int[batchSize][width];
        for (int r = 0; r < batchSize; r++) {
            Arrays.fill(tokens[r], pad);
            Arrays.fill(labels[r], SsmModel.IGNORE_INDEX);
            System.arraycopy(rows[r], 0, tokens[r], 0, rows[r].length);
            System.arraycopy(rows[r], 0, labels[r], 0, rows[r].length);
        }
        return new Batch(tokens, labels);
    }

    /** The tokens of one row. */
    int[] row(SplittableRandom rng) {
        if (rng.nextDouble() < GENERIC_SHARE) {
            StringBuilder sb = new StringBuilder();
            while (sb.length() < GENERIC_BYTES) {
                if (!sb.isEmpty()) {
                    sb.append(' ');
                }
                sb.append(BundledTasks.pick(rng, tasks).sentence(rng));
            }
            return tokenizer.encode(sb.toString());
        }
        int t = rng.nextInt(tasks.size());
        BundledTask task = tasks.get(t);
        Example e;
        do {
            e = task.draw(rng, true);
        } while (TaskFiles.heldOut(e.input()));
        List<Example> ex = task.explode(e);
        Example one = ex.get(rng.nextInt(ex.size()));
        return encoders.get(t).encode(one, 0).orElseThrow().tokens();
    }

    /** The text of a row, for reading. */
    public String sample(long seed) {
        return tokenizer.decode(row(new SplittableRandom(seed)), false);
    }
}
