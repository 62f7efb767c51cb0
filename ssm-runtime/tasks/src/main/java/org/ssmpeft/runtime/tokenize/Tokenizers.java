package org.ssmpeft.runtime.tokenize;

import java.nio.file.Files;
import java.nio.file.Path;

/** Chooses the tokenizer of a model folder. */
public final class Tokenizers {

    private Tokenizers() {
    }

    /**
     * The tokenizer of a model folder: its {@code tokenizer.json} through {@link HfTokenizer} when the folder has one,
     * else the standard {@link ByteTokenizer} (the project's byte-level models ship no tokenizer file).
     */
    public static Tokenizer forModel(Path modelDir) throws TokenizerException {
        if (!Files.isDirectory(modelDir)) {
            throw new TokenizerException("not a model folder: " + modelDir.toAbsolutePath());
        }
        Path file = modelDir.resolve("tokenizer.json");
        return Files.exists(file) ? HfTokenizer.load(file) : ByteTokenizer.standard();
    }

    /**
     * {@link #forModel(Path)}, checked against the model's embedding: every id the tokenizer can produce (its
     * vocabulary, hence its special tokens) must be a row of an embedding of {@code modelVocabSize} rows. A
     * tokenizer that does not fit is refused naming both files' numbers, before any text is encoded.
     */
    public static Tokenizer forModel(Path modelDir, int modelVocabSize) throws TokenizerException {
        Tokenizer t = forModel(modelDir);
        if (t.vocabSize() > modelVocabSize) {
            try {
                t.close();
            } catch (RuntimeException ignored) {
                // the refusal below is the news
            }
            throw new TokenizerException(t.description() + ": token ids go up to " + (t.vocabSize() - 1)
                    + ", but the model in " + modelDir + " has vocab_size " + modelVocabSize + " (config.json);"
                    + " expected a tokenizer whose ids are all below vocab_size (is this the model's tokenizer?)");
        }
        return t;
    }
}
