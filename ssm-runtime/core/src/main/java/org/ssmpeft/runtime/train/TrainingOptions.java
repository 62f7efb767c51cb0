package org.ssmpeft.runtime.train;

import java.util.Optional;

/**
 * What a training run does; the defaults are Hugging Face Trainer's (what the reference training used, paper §8):
 * AdamW β = (0.9, 0.999), ε = 1e-8, weight decay 0, linear decay without warm-up, gradient clipping at norm 1,
 * no accumulation, seed 42.
 *
 * @param maxSteps            optimiser steps of the whole run (the schedule's T)
 * @param learningRate        the peak learning rate
 * @param weightDecay         AdamW's λ, applied to the parameters whose spec asks for decay
 * @param beta1               AdamW β1
 * @param beta2               AdamW β2
 * @param eps                 AdamW ε
 * @param schedule            the learning-rate shape after warm-up
 * @param warmupSteps         linear warm-up from 0 over this many steps
 * @param maxGradNorm         clip the global gradient norm to this; 0 turns clipping off
 * @param accumulationSteps   micro-batches per optimiser step
 * @param seed                the data order's seed (handed to the {@link BatchSource})
 * @param evalEvery           evaluate every this many steps (and after the last); 0: after the last step only
 * @param checkpointEvery     write a checkpoint every this many steps (and after the last); 0: after the last only
 * @param keepCheckpoints     keep this many newest checkpoints; 0 keeps all
 * @param earlyStoppingMetric stop when this evaluation score has not improved for {@code patience} evaluations
 * @param higherIsBetter      whether a larger score is an improvement (accuracy) or a smaller one (loss)
 * @param patience            evaluations without improvement that stop the run
 */
public record TrainingOptions(int maxSteps, double learningRate, double weightDecay, double beta1, double beta2,
                              double eps, LearningRateSchedule.Kind schedule, int warmupSteps, double maxGradNorm,
                              int accumulationSteps, long seed, int evalEvery, int checkpointEvery,
                              int keepCheckpoints, Optional<String> earlyStoppingMetric, boolean higherIsBetter,
                              int patience) {

    public TrainingOptions {
        require(maxSteps >= 1, "max steps must be >= 1, found " + maxSteps);
        require(learningRate >= 0 && Double.isFinite(learningRate), "learning rate must be >= 0, found "
                + learningRate);
        require(warmupSteps >= 0, "warm-up steps must be >= 0, found " + warmupSteps);
        require(maxGradNorm >= 0, "max gradient norm must be >= 0 (0 turns clipping off), found " + maxGradNorm);
        require(accumulationSteps >= 1, "gradient accumulation steps must be >= 1, found " + accumulationSteps);
        require(evalEvery >= 0 && checkpointEvery >= 0 && keepCheckpoints >= 0,
                "eval/checkpoint intervals and the number of checkpoints kept must be >= 0");
        require(patience >= 1, "early-stopping patience must be >= 1, found " + patience);
        if (schedule == null || earlyStoppingMetric == null) {
            throw new IllegalArgumentException("schedule and early-stopping metric must not be null");
        }
        new AdamW(beta1, beta2, eps, weightDecay);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Defaults for a run of {@code maxSteps} steps at {@code learningRate}. */
    public static Builder builder(int maxSteps, double learningRate) {
        return new Builder(maxSteps, learningRate);
    }

    /** The schedule of this run. */
    public LearningRateSchedule learningRateSchedule() {
        return new LearningRateSchedule(schedule, warmupSteps, maxSteps);
    }

    /** A fresh optimiser with these hyper-parameters. */
    public AdamW optimizer() {
        return new AdamW(beta1, beta2, eps, weightDecay);
    }

    /** Builds {@link TrainingOptions}; every setter keeps the others. */
    public static final class Builder {
        private int maxSteps;
        private double learningRate;
        private double weightDecay;
        private double beta1 = AdamW.DEFAULT_BETA1;
        private double beta2 = AdamW.DEFAULT_BETA2;
        private double eps = AdamW.DEFAULT_EPS;
        private LearningRateSchedule.Kind schedule = LearningRateSchedule.Kind.LINEAR;
        private int warmupSteps;
        private double maxGradNorm = 1.0;
        private int accumulationSteps = 1;
        private long seed = 42;
        private int evalEvery;
        private int checkpointEvery;
        private int keepCheckpoints = 2;
        private Optional<String> earlyStoppingMetric = Optional.empty();
        private boolean higherIsBetter = true;
        private int patience = 1;

        private Builder(int maxSteps, double learningRate) {
            this.maxSteps = maxSteps;
            this.learningRate = learningRate;
        }

        public Builder maxSteps(int v) {
            maxSteps = v;
            return this;
        }

        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder betas(double b1, double b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        public Builder eps(double v) {
            eps = v;
            return this;
        }

        public Builder schedule(LearningRateSchedule.Kind kind, int warmup) {
            schedule = kind;
            warmupSteps = warmup;
            return this;
        }

        /** 0 turns clipping off. */
        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder accumulationSteps(int v) {
            accumulationSteps = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder evalEvery(int v) {
            evalEvery = v;
            return this;
        }

        public Builder checkpointEvery(int v) {
            checkpointEvery = v;
            return this;
        }

        public Builder keepCheckpoints(int v) {
            keepCheckpoints = v;
            return this;
        }

        /** Stop after {@code patience} evaluations in a row without improvement of {@code metric}. */
        public Builder earlyStopping(String metric, boolean higherIsBetter, int patience) {
            this.earlyStoppingMetric = Optional.of(metric);
            this.higherIsBetter = higherIsBetter;
            this.patience = patience;
            return this;
        }

        public TrainingOptions build() {
            return new TrainingOptions(maxSteps, learningRate, weightDecay, beta1, beta2, eps, schedule, warmupSteps,
                    maxGradNorm, accumulationSteps, seed, evalEvery, checkpointEvery, keepCheckpoints,
                    earlyStoppingMetric, higherIsBetter, patience);
        }
    }
}
