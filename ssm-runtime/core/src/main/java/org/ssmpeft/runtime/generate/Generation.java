package org.ssmpeft.runtime.generate;

import java.util.Arrays;
import java.util.OptionalInt;

/**
 * A decoded continuation.
 *
 * @param tokens         the generated tokens, without the prompt and without the stop token that ended them
 * @param stopToken      the stop token that ended the sequence; empty when the length limit did
 * @param logProbability Σ log p of the generated tokens, the stop token included (under the masked distribution)
 * @param score          {@code logProbability / length^lengthPenalty}, length = generated tokens with the stop token
 */
public record Generation(int[] tokens, OptionalInt stopToken, double logProbability, double score) {

    public Generation {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    /** Generated tokens counted for the length penalty: the tokens and the stop token, if any. */
    public int length() {
        return tokens.length + (stopToken.isPresent() ? 1 : 0);
    }

    /** Whether a stop token ended it (else the length limit). */
    public boolean stopped() {
        return stopToken.isPresent();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Generation g && Arrays.equals(tokens, g.tokens) && stopToken.equals(g.stopToken)
                && Double.compare(logProbability, g.logProbability) == 0 && Double.compare(score, g.score) == 0;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(tokens) * 31 + stopToken.hashCode();
    }

    @Override
    public String toString() {
        return "Generation" + Arrays.toString(tokens) + (stopToken.isPresent() ? " + stop " + stopToken.getAsInt()
                : "") + " score " + score;
    }
}
