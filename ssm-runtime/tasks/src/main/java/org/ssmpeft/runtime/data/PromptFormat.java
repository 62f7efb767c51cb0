package org.ssmpeft.runtime.data;

/**
 * How the paper code turns an {@link Example} into the two texts it tokenises (furiosa-ai/ssm-state-tuning
 * {@code dataset/base.py}; paper.md §9):
 * <ul>
 *   <li>the prompt prefix, tokenised on its own and prepended to the input ids (Spider, DART; empty for the others);</li>
 *   <li>the input text: {@code instruction + input + "###"} (the instruction is GLUE's PromptBench sentence, empty for
 *       generation tasks);</li>
 *   <li>the label text: the output, followed by the eos token for generation tasks ({@code label + "<|endoftext|>"})
 *       and by nothing for classification (the single class digit).</li>
 * </ul>
 *
 * @param prefix the prompt prefix, tokenised separately ({@code ""} for none)
 * @param instruction written in front of the input, in the same text
 * @param separator after the input ({@code "###"}, the paper code's {@code tokenizer.sep_token})
 * @param eosAfterLabel whether the eos token ends the label (NLG) or not (NLU)
 */
public record PromptFormat(String prefix, String instruction, String separator, boolean eosAfterLabel) {

    /** The paper code's separator, written as plain text after every input. */
    public static final String SEPARATOR = "###";

    /** The paper code's eos text (GPT-NeoX {@code <|endoftext|>}, id 0; 256 in the byte-level tokenizer). */
    public static final String EOS_TEXT = "<|endoftext|>";

    /** Spider's prefix: {@code "Create a sql request for the following question and schema:\n"} + sep_token. */
    public static final String SPIDER_PREFIX = "Create a sql request for the following question and schema:\n" + SEPARATOR;

    /** DART's prefix (no separator after it). */
    public static final String DART_PREFIX = "Generate text for the following RDF triples:\n";

    public PromptFormat {
        if (prefix == null || instruction == null || separator == null) {
            throw new IllegalArgumentException("prefix, instruction and separator must not be null (use \"\")");
        }
    }

    /** A generation task: {@code [prefix] input + "###"}, label {@code output + eos}. */
    public static PromptFormat generation(String prefix) {
        return new PromptFormat(prefix, "", SEPARATOR, true);
    }

    /** A classification task: {@code instruction + input + "###"}, label the class digit without eos. */
    public static PromptFormat classification(String instruction) {
        return new PromptFormat("", instruction, SEPARATOR, false);
    }

    /**
     * A number generated after an instruction (GLUE STS-B): {@code instruction + input + "###"}, label
     * {@code output + eos}, so that decoding stops after the number.
     */
    public static PromptFormat instructedGeneration(String instruction) {
        return new PromptFormat("", instruction, SEPARATOR, true);
    }

    /** The input text tokenised after the prefix. */
    public String inputText(Example e) {
        return instruction + e.input() + separator;
    }

    /** The label text (the eos, when there is one, is appended as its id by the {@link Encoder}). */
    public String labelText(Example e) {
        return e.output();
    }

    /**
     * The whole training text, prefix to eos, as one string: what the model sees, for reading and for tests. The
     * tokens are not {@code encode(render(e))}: prefix, input and label are tokenised separately.
     */
    public String render(Example e) {
        return prefix + inputText(e) + labelText(e) + (eosAfterLabel ? EOS_TEXT : "");
    }
}
