package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.KillCampaign;

/**
 * SIGKILL a process writing, replacing and rotating trainer checkpoints ({@link CheckpointWriteProcess}) at random
 * moments: after every kill each folder named {@code checkpoint-<step>} opens and reads whole, as one version (every
 * float of both tensor files equal, the step its version's), the newest is the last reported save or a later one,
 * and the next start's clean-up leaves no hidden folders.
 */
class CheckpointKillTest {

    static final int KILLS = 20;

    @Test
    void aKilledCheckpointWriteLeavesEveryCheckpointFolderWhole(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        KillCampaign.run(CheckpointWriteProcess.class, List.of(dir.toString()), KILLS, 16, 15, 60, (round, saved) -> {
            List<Path> all = TrainingCheckpoint.list(dir);
            if (saved >= 0) {
                assertThat(all).as("round %d: checkpoints after the kill", round).isNotEmpty();
            }
            int newest = -1;
            for (Path p : all) {
                int version = wholeVersion(round, p);
                assertThat(version / 2).as("round %d: %s holds its own step", round, p.getFileName())
                        .isEqualTo(TrainingCheckpoint.stepOf(p).getAsInt());
                newest = Math.max(newest, version);
            }
            if (saved >= 0) {
                assertThat(newest).as("round %d: the newest checkpoint is the last reported save or later", round)
                        .isBetween(saved, saved + 2);
            }
            // what the trainer does on its next start
            TrainingCheckpoint.removeIncomplete(dir);
            try (Stream<Path> s = Files.list(dir)) {
                assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList())
                        .as("round %d: hidden leftovers after the clean-up", round).isEmpty();
            }
        });
        System.out.printf("checkpoint kill campaign: %d kills, every checkpoint folder whole%n", KILLS);
    }

    /** The version every float of the checkpoint holds; fails when it cannot be read or mixes versions. */
    private static int wholeVersion(int round, Path checkpoint) {
        TrainingCheckpoint c = TrainingCheckpoint.open(checkpoint);
        Map<String, Tensor> trainable = c.trainable();
        Map<String, Tensor> moments = c.optimizerState();
        assertThat(trainable.keySet()).as("round %d: %s", round, checkpoint).containsExactlyElementsOf(
                CheckpointWriteProcess.KEYS);
        assertThat(moments).as("round %d: %s", round, checkpoint).hasSize(2 * CheckpointWriteProcess.KEYS.size());
        float v = trainable.values().iterator().next().data()[0];
        for (Tensor t : Stream.concat(trainable.values().stream(), moments.values().stream()).toList()) {
            for (float x : t.data()) {
                if (x != v) {
                    throw new AssertionError("round " + round + ": " + checkpoint + " mixes versions " + v + " and "
                            + x);
                }
            }
        }
        assertThat(c.state().path("step").asInt()).isEqualTo((int) v / 2);
        return (int) v;
    }
}
