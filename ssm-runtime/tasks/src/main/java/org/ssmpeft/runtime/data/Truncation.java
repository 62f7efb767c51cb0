package org.ssmpeft.runtime.data;

/**
 * What the {@link Encoder} does with an example whose input and label together have more tokens than its maximum
 * length (the prefix is not counted, as in the paper code's {@code max_seqlen} check).
 */
public enum Truncation {
    /** Leave the example out (the paper code: Spider drops samples with input + label over 1536 tokens). */
    DROP,
    /**
     * Cut tokens from the start of the input (after the prefix, which is kept whole) until input + label fit; the
     * separator and the label stay whole. An example whose label alone does not fit is left out.
     */
    TRUNCATE_INPUT_START
}
