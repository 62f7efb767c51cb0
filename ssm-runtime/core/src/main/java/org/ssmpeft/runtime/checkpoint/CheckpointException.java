package org.ssmpeft.runtime.checkpoint;

import java.io.IOException;

/**
 * A checkpoint directory that cannot be loaded or saved: a malformed config (naming the key, the value and what was
 * expected), or a missing, unexpected or mis-shaped tensor (naming the tensor, the expected and the found shape).
 */
public class CheckpointException extends IOException {

    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
