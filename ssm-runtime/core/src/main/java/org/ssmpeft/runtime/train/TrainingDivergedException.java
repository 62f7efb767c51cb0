package org.ssmpeft.runtime.train;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A loss, gradient or updated parameter that is NaN or infinite stopped the run. Nothing was written for the failed
 * step: the newest checkpoint on disk is the last good one.
 */
public final class TrainingDivergedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int step;
    private final String parameter;
    private final transient Path lastGoodCheckpoint;

    TrainingDivergedException(String message, int step, String parameter, Optional<Path> lastGoodCheckpoint) {
        super(message);
        this.step = step;
        this.parameter = parameter;
        this.lastGoodCheckpoint = lastGoodCheckpoint.orElse(null);
    }

    /** The step that failed (1-based: the step that would have completed). */
    public int step() {
        return step;
    }

    /** The trainable parameter's key, or {@code loss}. */
    public String parameter() {
        return parameter;
    }

    /** The newest checkpoint, untouched by the failed step; empty when none was written yet. */
    public Optional<Path> lastGoodCheckpoint() {
        return Optional.ofNullable(lastGoodCheckpoint);
    }
}
