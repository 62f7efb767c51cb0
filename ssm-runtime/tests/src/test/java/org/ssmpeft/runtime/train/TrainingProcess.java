package org.ssmpeft.runtime.train;

import java.nio.file.Path;

/**
 * The training run of {@link KillAndResumeTest}, as a program: {@code TrainingProcess DIR train|resume SLEEP_MS}
 * trains the tiny model's adapters in DIR (12 steps, a checkpoint every 2), sleeping after each step so that a
 * test can kill it in the middle.
 */
public final class TrainingProcess {

    static final int STEPS = 12;

    private TrainingProcess() {
    }

    static Trainer trainer(Path dir, long sleepMillis) {
        return Trainer.builder(TinyMamba.model(5), TinyMamba.adapters(1), TinyMamba.options(STEPS).checkpointEvery(2)
                        .keepCheckpoints(0).build())
                .outputDirectory(dir).curve(false, 16, 16).listener(new TrainingListener() {
                    @Override
                    public void onStep(StepRecord step) {
                        try {
                            Thread.sleep(sleepMillis);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }).build();
    }

    public static void main(String[] args) {
        Trainer t = trainer(Path.of(args[0]), Long.parseLong(args[2]));
        TrainingResult r = args[1].equals("resume") ? t.resume(TinyMamba.data()) : t.train(TinyMamba.data());
        System.out.println("finished " + r.steps());
    }
}
