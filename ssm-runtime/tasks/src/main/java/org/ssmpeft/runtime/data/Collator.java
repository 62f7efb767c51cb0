package org.ssmpeft.runtime.data;

import java.util.Arrays;
import java.util.List;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * Pads encoded examples into a batch as the paper code's {@code DataCollator} does: on the right, to the longest row,
 * tokens with the pad id and labels with -100 (so padding scores nothing; a causal model's outputs before the padding
 * do not see it).
 */
public final class Collator {

    private final int padId;

    public Collator(int padId) {
        this.padId = padId;
    }

    public int padId() {
        return padId;
    }

    /** The rows padded to the longest; {@code epoch} and {@code index} are recorded in the batch. */
    public Batch collate(List<EncodedExample> rows, int epoch, int index) {
        int t = 0;
        for (EncodedExample e : rows) {
            t = Math.max(t, e.length());
        }
        int[][] tokens = new int[rows.size()][];
        int[][] labels = new int[rows.size()][];
        int[] sources = new int[rows.size()];
        for (int b = 0; b < rows.size(); b++) {
            EncodedExample e = rows.get(b);
            tokens[b] = Arrays.copyOf(e.tokens(), t);
            Arrays.fill(tokens[b], e.length(), t, padId);
            labels[b] = Arrays.copyOf(e.labels(), t);
            Arrays.fill(labels[b], e.length(), t, SsmModel.IGNORE_INDEX);
            sources[b] = e.source();
        }
        return new Batch(tokens, labels, sources, epoch, index);
    }
}
