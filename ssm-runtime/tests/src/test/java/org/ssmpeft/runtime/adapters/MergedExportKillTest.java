package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.io.KillCampaign;

/**
 * SIGKILL (and halt at crash points) a process exporting merged models into one folder: after every stop the folder
 * loads as one whole version (its config's layer count and every float agree), the last reported export or the one
 * in progress; a file the user keeps beside the model (tokenizer.json) survives every export.
 */
class MergedExportKillTest {

    static final int KILLS = 16;

    @Test
    void aKilledExportLeavesTheOldModelOrTheNewOneWhole(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("merged");
        MambaCheckpoint.save(MergedExportProcess.version(1), dir);
        Files.writeString(dir.resolve("tokenizer.json"), "{\"kept\": true}");
        int[] previous = {1};
        KillCampaign.run(MergedExportProcess.class, List.of(dir.toString()), KILLS, 17, 20, 24, (round, saved) -> {
            MambaWeights w = MambaCheckpoint.load(dir);
            float v = w.embedding()[0];
            assertThat(w.config().layers()).as("round %d: config and weights of one version", round)
                    .isEqualTo(1 + (int) v % 2);
            for (float[] a : w.parameters().values().stream().map(t -> t.data()).toList()) {
                for (float x : a) {
                    if (x != v) {
                        throw new AssertionError("round " + round + ": versions " + v + " and " + x + " mixed");
                    }
                }
            }
            if (saved >= 0) {
                assertThat((int) v).as("round %d: the last reported export or the one in progress", round)
                        .isBetween(saved, saved + 1);
            } else {
                assertThat((int) v).as("round %d: the previous round's version or this round's first", round)
                        .isIn(previous[0], (round + 1) * 1000);
            }
            previous[0] = (int) v;
            assertThat(Files.readString(AtomicFoldersView.readable(dir).resolve("tokenizer.json")))
                    .isEqualTo("{\"kept\": true}");
        });
        MambaCheckpoint.save(MergedExportProcess.version(2), dir);
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("merged");
        }
        System.out.printf("merged export kill campaign: %d stops, every folder loaded as one version%n", KILLS);
    }

    /** Where the current version lives (the folder, or for an instant between two renames, the previous one). */
    private static final class AtomicFoldersView {
        static Path readable(Path dir) {
            return org.ssmpeft.runtime.io.AtomicFolders.readable(dir).orElse(dir);
        }
    }
}
