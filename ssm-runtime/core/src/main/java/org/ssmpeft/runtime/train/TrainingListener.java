package org.ssmpeft.runtime.train;

import java.nio.file.Path;

/** Hears what a {@link Trainer} does, on the training thread; every method does nothing by default. */
public interface TrainingListener {

    /** The run starts (or resumes) after {@code firstStep} completed steps, of {@code maxSteps}. */
    default void onStart(int firstStep, int maxSteps) {
    }

    default void onStep(StepRecord step) {
    }

    default void onEvaluation(EvalRecord evaluation) {
    }

    /** A checkpoint is complete on disk. */
    default void onCheckpoint(int step, Path directory) {
    }

    /** The run ended normally (not by an exception). */
    default void onEnd(TrainingResult result) {
    }
}
