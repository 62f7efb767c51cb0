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
 * float of both tensor files equal, the step its version's); after the next start's {@link TrainingCheckpoint#recover}
 * the newest is the last reported save or the one after it (a kill between retiring a step's old folder and renaming
 * its new version into place used to lose the last save), and no hidden folders are left.
 */
class CheckpointKillTest {

    static final int KILLS = 20;

    @Test
    void aKilledCheckpointWriteLeavesEveryCheckpointFolderWhole(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        KillCampaign.run(CheckpointWriteProcess.class, List.of(dir.toString()), KILLS, 16, 15, 60, (round, saved) -> {
            // every folder under a checkpoint name is whole, before the next start touches anything
            for (Path p : TrainingCheckpoint.list(dir)) {
                wholeVersion(round, p);
            }
            // what the trainer does on its next start: a step being rewritten gets its previous version back
            TrainingCheckpoint.recover(dir);
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
                // the write after the last reported one may have landed (saved + 1), never more, never less
                assertThat(newest).as("round %d: the newest checkpoint after recovery is the last reported save or"
                        + " the next one; folders: %s", round, all.stream().map(Path::getFileName).toList())
                        .isBetween(saved, saved + 1);
            }
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
