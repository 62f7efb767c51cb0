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
}
