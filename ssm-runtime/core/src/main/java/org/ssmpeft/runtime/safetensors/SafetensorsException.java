package org.ssmpeft.runtime.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file that cannot be read or written: malformed header, an entry that breaks a rule, or an I/O
 * failure. The message names the file, the tensor (when one is concerned), what was expected and what was found.
 */
public class SafetensorsException extends IOException {

    private static final long serialVersionUID = 1L;

    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }

    static SafetensorsException inFile(Path file, String what) {
        return new SafetensorsException("safetensors file " + file + ": " + what);
    }

    static SafetensorsException inTensor(Path file, String tensor, String what) {
        return new SafetensorsException("safetensors file " + file + ", tensor '" + tensor + "': " + what);
    }
}
