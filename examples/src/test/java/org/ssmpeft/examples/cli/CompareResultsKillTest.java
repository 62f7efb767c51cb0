package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.io.KillCampaign;

/**
 * SIGKILL (and halt at crash points) a process rewriting {@code compare.json}: after every stop the file parses and
 * holds one version whole (its settings, every row and the table agree, the row count is that version's), the last
 * reported write or the one in progress; the next write removes the temporary files the kills left.
 */
class CompareResultsKillTest {

    static final int KILLS = 16;

    @Test
    void aKilledCompareLeavesTheLastResultsWhole(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve(CompareResults.FILE);
        ObjectMapper json = new ObjectMapper();
        KillCampaign.run(CompareResultsProcess.class, List.of(file.toString()), KILLS, 18, 15, 6, (round, saved) -> {
            if (!Files.exists(file)) {
                assertThat(saved).as("round %d: no compare.json though a write was reported", round).isNegative();
                return;
            }
            JsonNode root = json.readTree(file.toFile());
            int v = root.path("settings").path("version").asInt(-1);
            assertThat(root.path("rows").size()).as("round %d: rows of version %d", round, v)
                    .isEqualTo(200 * (1 + v % 7));
            for (JsonNode r : root.path("rows")) {
                assertThat(r.path("lr").asInt()).as("round %d: one version in every row", round).isEqualTo(v);
                assertThat(r.path("scores").path("f1").asInt()).isEqualTo(v);
            }
            assertThat(root.path("table").asText()).isEqualTo("| version " + v + " |\n");
            if (saved >= 0) {
                assertThat(v).as("round %d: the last reported write or the one in progress", round)
                        .isBetween(saved, saved + 1);
            }
        });
        CompareResults.write(file, java.util.Map.of("version", 1), CompareResultsProcess.rows(1), List.of("x"));
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList())
                    .as("temporary files the kills left, after the next write").isEmpty();
        }
        System.out.printf("compare results kill campaign: %d stops, compare.json always whole%n", KILLS);
    }
}
