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
        TrainingResult r = builder.build().train(batches);
        return new Outcome(r, seconds[0], tokens[0]);
    }
}
