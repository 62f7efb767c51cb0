package org.ssmpeft.runtime.tokenize;

import java.util.OptionalInt;

/**
 * Text to token ids and back.
 *
 * <p>{@link #encode} adds no special token of its own: it returns what the tokenizer's own rules produce for the text
 * (for a Hugging Face file, what transformers' {@code tokenizer.encode(text)} returns). Special-token texts written in
 * the text (such as {@code <|endoftext|>}) become their ids, as Hugging Face added tokens do.
 *
 * <p>Special ids are optional: a tokenizer without an end-of-sequence token says so with an empty value, never with a
 * made-up id. Implementations are thread-safe: encode and decode may run from several threads at once; {@link #close}
 * must come after the last call.
 */
public interface Tokenizer extends AutoCloseable {

    /** The ids of {@code text}. */
    int[] encode(String text);

    /** The text of {@code ids}, special tokens written as their text; bytes that are not valid UTF-8 become U+FFFD. */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /** The text of {@code ids}; with {@code skipSpecialTokens} special tokens (eos, pad...) are left out. */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** One more than the largest id the tokenizer produces (transformers' {@code len(tokenizer)}). */
    int vocabSize();

    /** The id of the single token whose text is {@code token}, if the vocabulary has it. */
    OptionalInt tokenId(String token);

    /** End of sequence ({@code <|endoftext|>} for GPT-NeoX and the byte-level tokenizer). */
    OptionalInt eosId();

    /** Padding; defaults to the eos id where the tokenizer names none (the paper code's {@code pad = eos}). */
    OptionalInt padId();

    /** {@link #eosId()}, or a failure naming the tokenizer and the fix, for code that cannot go without one. */
    default int requireEos() {
        return eosId().orElseThrow(() -> new IllegalArgumentException(description() + " names no end-of-sequence"
                + " token; expected eos_token in tokenizer_config.json beside it or <|endoftext|> in its vocabulary"));
    }

    /** {@link #padId()}, or a failure naming the tokenizer and the fix. */
    default int requirePad() {
        return padId().orElseThrow(() -> new IllegalArgumentException(description() + " names no padding token"
                + " (nor an eos to pad with); expected pad_token or eos_token in tokenizer_config.json beside it"));
    }

    /** Beginning of sequence, where the tokenizer names one. */
    OptionalInt bosId();

    /** What this tokenizer is, for messages and logs: {@code byte-level} or {@code tokenizer.json at <path>}. */
    String description();

    /** Frees native resources, if any; a no-op for pure-Java tokenizers. */
    @Override
    default void close() {
    }
}
