package org.ssmpeft.runtime.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.tokenize.Tokenizer;

/**
 * Examples to tokens and labels exactly as the paper code encodes them ({@code dataset/base.py}, paper.md §9): the
 * prefix, the input text and the label text are tokenised separately and concatenated, the eos id ends the label of
 * a generation task, and labels are -100 on the prefix and input.
 *
 * <p>The eos is appended as its id rather than tokenised from {@code "<|endoftext|>"} in the label text: the same ids
 * for GPT-NeoX (an added special token is split out before the rest of the text is tokenised, and its post-processor
 * adds nothing) and for the byte-level tokenizer, and it works for any tokenizer with an eos id.
 *
 * <p>Length policy: {@code maxLength} bounds the input and label tokens together, not counting the prefix (the paper
 * code's {@code max_seqlen}: 1536 for Spider, none elsewhere); {@code maxLength <= 0} means no bound. Examples over it
 * are dropped or have their input cut at the start, see {@link Truncation}. Immutable; thread-safe when the tokenizer
 * is.
 */
public final class Encoder {

    /** Encoded examples of a data set, and the indices of those that were dropped for length. */
    public record Encoded(List<EncodedExample> examples, List<Integer> dropped) {

        public Encoded {
            examples = List.copyOf(examples);
            dropped = List.copyOf(dropped);
        }
    }

    private final Tokenizer tokenizer;
    private final PromptFormat format;
    private final int maxLength;
    private final Truncation truncation;
    private final int[] prefixIds;
    private final int eosId;

    /** Without a length bound. */
    public Encoder(Tokenizer tokenizer, PromptFormat format) {
        this(tokenizer, format, 0, Truncation.DROP);
    }

    public Encoder(Tokenizer tokenizer, PromptFormat format, int maxLength, Truncation truncation) {
        this.tokenizer = tokenizer;
        this.format = format;
        this.maxLength = maxLength;
        this.truncation = truncation;
        this.prefixIds = format.prefix().isEmpty() ? new int[0] : tokenizer.encode(format.prefix());
        if (format.eosAfterLabel()) {
            this.eosId = tokenizer.eosId().orElseThrow(() -> new IllegalArgumentException(
                    "the prompt format ends labels with eos but " + tokenizer.description() + " has no eos token"));
        } else {
            this.eosId = -1;
        }
    }

    public PromptFormat format() {
        return format;
    }

    /** The prefix ids, tokenised once. */
    public int[] prefixIds() {
        return prefixIds.clone();
    }

    /** Every example of {@code data} that fits, in order; {@code source} is the example's index. */
    public Encoded encodeAll(List<Example> data) {
        List<EncodedExample> out = new ArrayList<>(data.size());
        List<Integer> dropped = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            Optional<EncodedExample> e = encode(data.get(i), i);
            if (e.isPresent()) {
                out.add(e.get());
            } else {
                dropped.add(i);
            }
        }
        return new Encoded(out, dropped);
    }

    /** The example as tokens and labels, or empty when it is over the length bound and the policy drops it. */
    public Optional<EncodedExample> encode(Example example, int source) {
        int[] input = tokenizer.encode(format.inputText(example));
        int[] label = labelIds(example);
        if (maxLength > 0 && input.length + label.length > maxLength) {
            if (truncation == Truncation.DROP || label.length >= maxLength) {
                return Optional.empty();
            }
            int keepSeparator = Math.min(input.length, tokenizer.encode(format.separator()).length);
            int cut = input.length + label.length - maxLength;
            if (input.length - cut < keepSeparator) {
                return Optional.empty();
            }
            input = Arrays.copyOfRange(input, cut, input.length);
        }
        int p = prefixIds.length + input.length;
        int[] tokens = new int[p + label.length];
        System.arraycopy(prefixIds, 0, tokens, 0, prefixIds.length);
        System.arraycopy(input, 0, tokens, prefixIds.length, input.length);
        System.arraycopy(label, 0, tokens, p, label.length);
        int[] labels = tokens.clone();
        Arrays.fill(labels, 0, p, SsmModel.IGNORE_INDEX);
        return Optional.of(new EncodedExample(tokens, labels, p, source));
    }

    /** The prompt for generation: prefix ids then the input text's ids (the paper code's "gen" mode input). */
    public int[] prompt(Example example) {
        int[] input = tokenizer.encode(format.inputText(example));
        int[] out = Arrays.copyOf(prefixIds, prefixIds.length + input.length);
        System.arraycopy(input, 0, out, prefixIds.length, input.length);
        return out;
    }

    private int[] labelIds(Example example) {
        int[] label = tokenizer.encode(format.labelText(example));
        if (format.eosAfterLabel()) {
            label = Arrays.copyOf(label, label.length + 1);
            label[label.length - 1] = eosId;
        }
        if (label.length == 0) {
            throw new IllegalArgumentException("example has an empty label and the format adds no eos: nothing to"
                    + " train on; input starts '" + abbreviate(example.input()) + "'");
        }
        return label;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
