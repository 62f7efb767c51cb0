package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.CrashPoints;

/** A trainer checkpoint that is not what the trainer wrote is refused naming the file, the key or the tensor. */
class TrainingCheckpointTest {

    @TempDir
    Path dir;

    private Path write(float value, Consumer<ObjectNode> editState) throws Exception {
        ObjectNode state = CheckpointWriteProcess.state(3);
        editState.accept(state);
        return TrainingCheckpoint.write(dir, 3, Map.of("adapter/a/p", Tensor.of(new float[] {1, value, 3}, 3)),
                Map.of("adapter/a/p.exp_avg", Tensor.of(new float[] {0, 0, 0}, 3)), state);
    }

    @Test
    void nanOrInfinityInACheckpointTensorIsRefusedNamingTheTensor() throws Exception {
        Path c = write(Float.NaN, s -> { });
        assertThatThrownBy(() -> TrainingCheckpoint.open(c).trainable()).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining(c.resolve(TrainingCheckpoint.TRAINABLE_FILE).toString())
                .hasMessageContaining("adapter/a/p").hasMessageContaining("NaN");
        Path inf = write(Float.POSITIVE_INFINITY, s -> { });
        assertThatThrownBy(() -> TrainingCheckpoint.open(inf).trainable()).hasMessageContaining("adapter/a/p")
                .hasMessageContaining("Inf");
    }

    @Test
    void stateFieldsOfTheWrongTypeOrRangeAreRefusedByKey() throws Exception {
        Path c = write(2, s -> {
            s.put("micro_batches", -1);
            s.put("stop_reason", "BOGUS");
            s.put("last_loss", "low");
            ((ObjectNode) s.get("optimizer")).put("step", 1.5);
        });
        assertThatThrownBy(() -> TrainingCheckpoint.open(c)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(c.resolve(TrainingCheckpoint.STATE_FILE).toString())
                .hasMessageContaining("key 'micro_batches' = -1: expected an integer >= 0")
                .hasMessageContaining("key 'optimizer.step' = 1.5: expected an integer >= 0")
                .hasMessageContaining("key 'last_loss' = \"low\": expected a number or null")
                .hasMessageContaining("key 'stop_reason' = \"BOGUS\": expected null or one of [MAX_STEPS,");
        Path step = write(2, s -> s.put("step", 4));
        assertThatThrownBy(() -> TrainingCheckpoint.open(step)).hasMessageContaining("step 4 does not match the"
                + " folder name checkpoint-3");
    }

    @Test
    void aTornStateFileIsRefusedNamingIt() throws Exception {
        Path c = write(2, s -> { });
        Files.writeString(c.resolve(TrainingCheckpoint.STATE_FILE), "{\"format\": ");
        assertThatThrownBy(() -> TrainingCheckpoint.open(c)).isInstanceOf(UncheckedIOException.class)
                .hasMessageStartingWith(c.resolve(TrainingCheckpoint.STATE_FILE) + ": ");
    }

    /** Thrown at a crash point to stop a write where a kill would, without leaving the test's JVM. */
    private static final class Stopped extends Error {
    }

    @Test
    void aStepStoppedBetweenRetiringItsOldFolderAndRenamingTheNewOneGetsItsOldVersionBackOnRecovery()
            throws Exception {
        write(2, s -> { });
        CrashPoints.install(what -> {
            if (what.equals("retired checkpoint-3")) {
                throw new Stopped();
            }
        });
        try {
            assertThatThrownBy(() -> write(5, s -> { })).isInstanceOf(Stopped.class);
        } finally {
            CrashPoints.install(what -> { });
        }
        // the window: the step has no folder under its name, its previous version lies under a hidden name
        assertThat(TrainingCheckpoint.list(dir)).isEmpty();
        TrainingCheckpoint.recover(dir);
        assertThat(TrainingCheckpoint.list(dir)).containsExactly(TrainingCheckpoint.directory(dir, 3));
        assertThat(TrainingCheckpoint.open(TrainingCheckpoint.directory(dir, 3)).trainable().get("adapter/a/p")
                .data()).containsExactly(1, 2, 3);
        try (var s = Files.list(dir)) {
            assertThat(s.toList()).as("nothing hidden left").hasSize(1);
        }
        // a later rewrite that lands replaces it, and recovery then removes nothing it should keep
        write(7, s -> { });
        TrainingCheckpoint.recover(dir);
        assertThat(TrainingCheckpoint.open(TrainingCheckpoint.directory(dir, 3)).trainable().get("adapter/a/p")
                .data()).containsExactly(1, 7, 3);
    }
}
