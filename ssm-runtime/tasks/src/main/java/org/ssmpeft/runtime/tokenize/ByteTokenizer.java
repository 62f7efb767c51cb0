package org.ssmpeft.runtime.tokenize;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

/**
 * The built-in byte-level tokenizer: the UTF-8 bytes of the text are ids 0-255, and special tokens follow from 256 on.
 * The standard instance has {@code <|endoftext|>} = 256 (eos, also bos, as in GPT-NeoX) and {@code <|padding|>} = 257,
 * so its vocabulary has 258 ids.
 *
 * <p>A special token's text inside the text to encode becomes its id (as Hugging Face added tokens do). Decoding never
 * throws: byte runs that are not valid UTF-8 become U+FFFD, and ids outside the vocabulary become U+FFFD too.
 * Immutable, thus thread-safe.
 */
public final class ByteTokenizer implements Tokenizer {

    /** The end-of-sequence token text shared with GPT-NeoX and the paper code. */
    public static final String EOS_TOKEN = "<|endoftext|>";
    /** The padding token text of GPT-NeoX. */
    public static final String PAD_TOKEN = "<|padding|>";
    /** The id of {@link #EOS_TOKEN} in the standard instance. */
    public static final int EOS_ID = 256;
    /** The id of {@link #PAD_TOKEN} in the standard instance. */
    public static final int PAD_ID = 257;

    private static final ByteTokenizer STANDARD = new ByteTokenizer(List.of(EOS_TOKEN, PAD_TOKEN));

    private final String[] specials;

    /**
     * A byte-level tokenizer with these special tokens at ids 256, 257, ...; the first is eos (and bos), the second,
     * if any, pad (else pad = eos).
     */
    public ByteTokenizer(List<String> specialTokens) {
        if (specialTokens.isEmpty()) {
            throw new IllegalArgumentException("a byte-level tokenizer needs at least an eos token; got none");
        }
        for (String s : specialTokens) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("special token texts must not be empty: " + specialTokens);
            }
        }
        if (specialTokens.stream().distinct().count() != specialTokens.size()) {
            throw new IllegalArgumentException("special token texts must be distinct: " + specialTokens);
        }
        this.specials = specialTokens.toArray(String[]::new);
    }

    /** 256 bytes, then {@code <|endoftext|>} (256) and {@code <|padding|>} (257). */
    public static ByteTokenizer standard() {
        return STANDARD;
    }

    /** The special token texts, in id order from 256. */
    public List<String> specialTokens() {
        return List.of(specials);
    }

    @Override
    public int[] encode(String text) {
        int[] out = new int[text.length() + 8];
        int n = 0;
        int segmentStart = 0;
        int i = 0;
        while (i < text.length()) {
            int special = specialAt(text, i);
            if (special < 0) {
                i++;
                continue;
            }
            byte[] bytes = text.substring(segmentStart, i).getBytes(StandardCharsets.UTF_8);
            out = ensure(out, n + bytes.length + 1);
            for (byte b : bytes) {
                out[n++] = b & 0xff;
            }
            out[n++] = 256 + special;
            i += specials[special].length();
            segmentStart = i;
        }
        byte[] bytes = text.substring(segmentStart).getBytes(StandardCharsets.UTF_8);
        out = ensure(out, n + bytes.length);
        for (byte b : bytes) {
            out[n++] = b & 0xff;
        }
        return Arrays.copyOf(out, n);
    }

    /** The special token starting at {@code i}, the longest if several do; -1 when none. */
    private int specialAt(String text, int i) {
        int found = -1;
        for (int s = 0; s < specials.length; s++) {
            if (text.startsWith(specials[s], i) && (found < 0 || specials[s].length() > specials[found].length())) {
                found = s;
            }
        }
        return found;
    }

    private static int[] ensure(int[] a, int size) {
        return size <= a.length ? a : Arrays.copyOf(a, Math.max(size, a.length * 2));
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id >= 0 && id < 256) {
                bytes.write(id);
                continue;
            }
            // String(byte[], UTF_8) replaces malformed input with U+FFFD, it never throws
            text.append(bytes.toString(StandardCharsets.UTF_8));
            bytes.reset();
            if (id >= 256 && id < vocabSize()) {
                if (!skipSpecialTokens) {
                    text.append(specials[id - 256]);
                }
            } else {
                text.append('\uFFFD');
            }
        }
        return text.append(bytes.toString(StandardCharsets.UTF_8)).toString();
    }

    @Override
    public int vocabSize() {
        return 256 + specials.length;
    }

    /** Special token texts map to their ids; a one-byte text to its byte. */
    @Override
    public OptionalInt tokenId(String token) {
        for (int s = 0; s < specials.length; s++) {
            if (specials[s].equals(token)) {
                return OptionalInt.of(256 + s);
            }
        }
        byte[] bytes = token.getBytes(StandardCharsets.UTF_8);
        return bytes.length == 1 ? OptionalInt.of(bytes[0] & 0xff) : OptionalInt.empty();
    }

    @Override
    public OptionalInt eosId() {
        return OptionalInt.of(256);
    }

    @Override
    public OptionalInt padId() {
        return OptionalInt.of(specials.length > 1 ? 257 : 256);
    }

    @Override
    public OptionalInt bosId() {
        return OptionalInt.of(256);
    }

    @Override
    public String description() {
        return "byte-level (256 bytes + " + String.join(", ", specials) + ")";
    }

    @Override
    public String toString() {
        return description();
    }
}
