package org.ssmpeft.runtime.data;

import java.util.Arrays;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * An example as token ids, in {@link SsmModel}'s loss convention: {@code labels} are aligned with {@code tokens} and
 * the model shifts them (position t is scored against {@code labels[t+1]}); {@link SsmModel#IGNORE_INDEX} (-100)
 * marks the prefix and input positions.
 *
 * <p>With ids = prefix ++ input ++ label (n ids, p = prefix + input), tokens = ids and labels[t] = -100 for t &lt; p,
 * ids[t] for t &ge; p. The positions scored are p-1 .. n-2, predicting ids[p] .. ids[n-1]: exactly the terms of the
 * paper code, which feeds ids[:-1] with the label ids right-aligned (see {@link #referenceInputIds()} and
 * {@link #referenceLabelIds()}). The last token is fed but scores nothing.
 *
 * @param tokens prefix, input and label ids
 * @param labels -100 on the prompt, the token itself on the label part
 * @param promptLength the number of prefix and input ids (the first label position)
 * @param source the index of the example in its {@link Dataset}
 */
public record EncodedExample(int[] tokens, int[] labels, int promptLength, int source) {

    public EncodedExample {
        if (tokens.length != labels.length) {
            throw new IllegalArgumentException("tokens (" + tokens.length + ") and labels (" + labels.length
                    + ") must have the same length");
        }
    }

    public int length() {
        return tokens.length;
    }

    /** The number of label tokens scored. */
    public int labelCount() {
        return tokens.length - promptLength;
    }

    /** The paper code's {@code input_ids} in "lm" mode: {@code ids[:-1]}. */
    public int[] referenceInputIds() {
        return Arrays.copyOf(tokens, tokens.length - 1);
    }

    /** The paper code's {@code label_ids}: the label ids right-aligned to {@code ids[:-1]}, -100 before them. */
    public int[] referenceLabelIds() {
        int[] out = new int[tokens.length - 1];
        Arrays.fill(out, SsmModel.IGNORE_INDEX);
        int labelLength = labelCount();
        System.arraycopy(tokens, promptLength, out, out.length - labelLength, labelLength);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EncodedExample e && Arrays.equals(tokens, e.tokens) && Arrays.equals(labels, e.labels)
                && promptLength == e.promptLength && source == e.source;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(tokens) + Arrays.hashCode(labels)) + promptLength * 7 + source;
    }

    @Override
    public String toString() {
        return "EncodedExample[source=" + source + ", tokens=" + tokens.length + ", promptLength=" + promptLength + "]";
    }
}
