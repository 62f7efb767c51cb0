package org.ssmpeft.runtime.train;

import java.util.Arrays;

/**
 * One micro-batch: token rows (B, T) and their labels (B, T), aligned as {@code SsmModel.lossAndGradients} reads
 * them (position t predicts label t+1; {@code -100} marks a position without a target; labels often equal the
 * tokens). Rows of one batch have one length: the collator pads them.
 */
public record Batch(int[][] tokens, int[][] labels) {

    public Batch {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a batch needs at least one row");
        }
        if (labels.length != tokens.length) {
            throw new IllegalArgumentException("batch: " + tokens.length + " token rows but " + labels.length
                    + " label rows");
        }
        int t = tokens[0].length;
        for (int b = 0; b < tokens.length; b++) {
            if (tokens[b].length != t || labels[b].length != t) {
                throw new IllegalArgumentException("batch row " + b + ": " + tokens[b].length + " tokens and "
                        + labels[b].length + " labels, expected " + t + " of each (pad rows to one length)");
            }
        }
    }

    /** Next-token prediction on the tokens themselves (labels = tokens). */
    public static Batch languageModeling(int[][] tokens) {
        return new Batch(tokens, tokens);
    }

    /** Rows (B). */
    public int rows() {
        return tokens.length;
    }

    /** Tokens per row (T). */
    public int length() {
        return tokens[0].length;
    }

    /** B·T, what tokens/s counts. */
    public long tokenCount() {
        return (long) rows() * length();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Batch b && Arrays.deepEquals(tokens, b.tokens) && Arrays.deepEquals(labels, b.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.deepHashCode(tokens) + Arrays.deepHashCode(labels);
    }

    @Override
    public String toString() {
        return "Batch(" + rows() + " x " + length() + ")";
    }
}
