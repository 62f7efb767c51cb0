/**
 * Training: {@link org.ssmpeft.runtime.train.Trainer} runs AdamW ({@link org.ssmpeft.runtime.train.AdamW}, PyTorch's
 * semantics) with a warm-up + constant/linear/cosine {@link org.ssmpeft.runtime.train.LearningRateSchedule},
 * {@link org.ssmpeft.runtime.train.GradientClipping} and {@link org.ssmpeft.runtime.train.GradientAccumulator} over
 * the micro-batches of a {@link org.ssmpeft.runtime.train.BatchSource}; evaluates through an
 * {@link org.ssmpeft.runtime.train.Evaluator} with early stopping; writes atomic, exactly resumable
 * {@link org.ssmpeft.runtime.train.TrainingCheckpoint}s, a JSONL {@link org.ssmpeft.runtime.train.MetricsLog}, a
 * terminal {@link org.ssmpeft.runtime.train.ProgressLine} and a curve PNG through an installed {@link org.ssmpeft.runtime.train.CurvePlotter}.
 */
package org.ssmpeft.runtime.train;
