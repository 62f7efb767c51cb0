package org.ssmpeft.runtime.data;

/**
 * A padded batch in {@link org.ssmpeft.runtime.backend.SsmModel#lossAndGradients}'s layout: tokens (B, T) padded
 * with the pad id, labels (B, T) padded with -100.
 *
 * @param tokens (B, T)
 * @param labels (B, T), aligned with tokens
 * @param sources the data-set index of each row's example
 * @param epoch the epoch this batch belongs to (0-based)
 * @param index the batch's index within its epoch (0-based)
 */
public record Batch(int[][] tokens, int[][] labels, int[] sources, int epoch, int index) {

    public int size() {
        return tokens.length;
    }

    /** The padded length T. */
    public int length() {
        return tokens.length == 0 ? 0 : tokens[0].length;
    }
}
