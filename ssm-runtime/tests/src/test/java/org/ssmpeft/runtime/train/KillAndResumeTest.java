package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process killed with SIGKILL ({@code Process.destroyForcibly}) after it wrote a checkpoint, then resumed,
 * ends with the same adapter and optimiser state, bit for bit, as a run that was never interrupted.
 */
@Tag("slow")
class KillAndResumeTest {

    @Test
    void aKilledRunResumesToTheSameAdapterAsAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path killed = dir.resolve("killed");
        Process child = start(killed, dir.resolve("child.log"));
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (TrainingCheckpoint.list(killed).stream()
                    .noneMatch(p -> TrainingCheckpoint.stepOf(p).getAsInt() >= 4)) {
                assertThat(child.isAlive()).as("the child died early: " + log(dir)).isTrue();
                assertThat(System.nanoTime()).as("no checkpoint-4 within 120 s: " + log(dir)).isLessThan(deadline);
                Thread.sleep(20);
            }
        } finally {
            child.destroyForcibly();   // SIGKILL on Linux
            child.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(child.exitValue()).as("killed, not finished").isNotZero();
        int stoppedAt = TrainingCheckpoint.stepOf(TrainingCheckpoint.latest(killed).orElseThrow()).getAsInt();
        assertThat(stoppedAt).isBetween(4, TrainingProcess.STEPS - 1);

        Trainer resumed = TrainingProcess.trainer(killed, 0);
        TrainingResult r = resumed.resume(TinyMamba.data());
        assertThat(r.steps()).isEqualTo(TrainingProcess.STEPS);

        Trainer straight = TrainingProcess.trainer(dir.resolve("straight"), 0);
        straight.train(TinyMamba.data());

        assertThat(TinyMamba.bits(resumed.parameters())).usingRecursiveComparison()
                .isEqualTo(TinyMamba.bits(straight.parameters()));
        String last = "checkpoint-" + TrainingProcess.STEPS;
        TrainerTest.assertSameTensors(TrainingCheckpoint.open(killed.resolve(last)).optimizerState(),
                TrainingCheckpoint.open(dir.resolve("straight").resolve(last)).optimizerState());
        TrainerTest.assertSameTensors(TrainingCheckpoint.open(killed.resolve(last)).trainable(),
                TrainingCheckpoint.open(dir.resolve("straight").resolve(last)).trainable());
    }

    private static Process start(Path outputDir, Path log) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        // the same matrix kernels as this JVM, so both compute the same floats
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            cmd.add("--add-modules");
            cmd.add("jdk.incubator.vector");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(TrainingProcess.class.getName());
        cmd.add(outputDir.toString());
        cmd.add("train");
        cmd.add("150");
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static String log(Path dir) {
        try {
            return Files.readString(dir.resolve("child.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
