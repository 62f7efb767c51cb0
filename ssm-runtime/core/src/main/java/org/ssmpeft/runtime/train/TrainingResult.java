package org.ssmpeft.runtime.train;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * How a run ended.
 *
 * @param steps          optimiser steps completed
 * @param reason         why it stopped
 * @param lastLoss       the last step's training loss (NaN when no step ran in this session)
 * @param bestScore      the best value of the early-stopping metric, when one is watched and was evaluated
 * @param bestStep       the step that reached it (0 when none)
 * @param lastCheckpoint the checkpoint written at the end
 * @param curve          the loss/metric curve PNG, when one was drawn
 */
public record TrainingResult(int steps, StopReason reason, double lastLoss, OptionalDouble bestScore, int bestStep,
                             Path lastCheckpoint, Optional<Path> curve) {

    /** Why a run stopped. */
    public enum StopReason {
        /** It reached {@code maxSteps}. */
        MAX_STEPS,
        /** The early-stopping metric did not improve for {@code patience} evaluations. */
        EARLY_STOPPING,
        /** It reached the step given to {@code Trainer.Builder.stopAfter} (a time-boxed part of a longer run). */
        STOP_AFTER
    }
}
