package org.ssmpeft.runtime.tokenize;

import java.io.IOException;

/** A tokenizer file that cannot be loaded: missing, not JSON, or not a Hugging Face tokenizer; the message names it. */
public class TokenizerException extends IOException {

    private static final long serialVersionUID = 1L;

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
