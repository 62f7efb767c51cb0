package org.ssmpeft.examples.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.train.BatchSource;
import org.ssmpeft.runtime.train.Evaluator;
import org.ssmpeft.runtime.train.StepRecord;
import org.ssmpeft.runtime.train.Trainer;
import org.ssmpeft.runtime.train.TrainingListener;
import org.ssmpeft.runtime.train.TrainingOptions;
import org.ssmpeft.runtime.train.TrainingResult;

/** One fine-tuning run of the acting adapters on a task's training split, timed. */
final class FineTune {

    record Outcome(TrainingResult result, double seconds, long tokens) {
        double tokensPerSecond() {
            return seconds > 0 ? tokens / seconds : 0;
        }
    }

    private FineTune() {
    }

    static Outcome run(TaskRun run, AdapterSet adapters, TrainingOptions options, int batch, Path output,
                       Evaluator evaluator, List<TrainingListener> listeners) throws IOException {
        return prepare(run, adapters, options, batch, output, evaluator, listeners).run(false);
    }

    /** A run set up but not started: {@link #checkResume} can refuse a checkpoint before any other work. */
    static final class Prepared {
        private final Trainer trainer;
        private final BatchSource batches;
        private final long[] tokens;
        private final double[] seconds;

        private Prepared(Trainer trainer, BatchSource batches, long[] tokens, double[] seconds) {
            this.trainer = trainer;
            this.batches = batches;
            this.tokens = tokens;
            this.seconds = seconds;
        }

        /** The checkpoint {@link #run(boolean) run(true)} continues from, checked against this run. */
        Path checkResume() {
            return trainer.checkResume(batches);
        }

        /** Trains from step 0, or continues the output folder's newest checkpoint. */
        Outcome run(boolean resume) {
            TrainingResult r = resume ? trainer.resume(batches) : trainer.train(batches);
            return new Outcome(r, seconds[0], tokens[0]);
        }
    }

    static Prepared prepare(TaskRun run, AdapterSet adapters, TrainingOptions options, int batch, Path output,
                            Evaluator evaluator, List<TrainingListener> listeners) throws IOException {
        BatchSource batches = run.trainBatches(batch, options.seed());
        long[] tokens = {0};
        double[] seconds = {0};
        var builder = Trainer.builder(run.model, adapters, options).outputDirectory(output)
                .listener(new TrainingListener() {
                    @Override
                    public void onStep(StepRecord s) {
                        tokens[0] += s.tokens();
                        seconds[0] += s.seconds();
                    }
                });
        listeners.forEach(builder::listener);
        if (evaluator != null) {
            builder.evaluator(evaluator);
        }
        return new Prepared(builder.build(), batches, tokens, seconds);
    }
}
