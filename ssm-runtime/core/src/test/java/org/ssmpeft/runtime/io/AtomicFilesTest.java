package org.ssmpeft.runtime.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @TempDir
    Path dir;

    @Test
    void aWriteThatFailsNamesTheFileAndLeavesTheOldContentAndNoTemporaryFile() throws Exception {
        Path target = Files.writeString(dir.resolve("scores.json"), "old");
        assertThatThrownBy(() -> AtomicFiles.write(target, ch -> {
            throw new IOException("No space left on device");
        })).isInstanceOf(IOException.class).hasMessageStartingWith("cannot write " + target.toAbsolutePath())
                .hasMessageContaining("No space left on device");
        assertThat(Files.readString(target)).isEqualTo("old");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("scores.json");
        }
    }

    @Test
    void temporaryFilesAKilledWriterLeftAreRemovedByTheNextWrite() throws Exception {
        Path target = dir.resolve("compare.json");
        Files.writeString(dir.resolve(".compare.json.123.tmp"), "torn");
        Files.writeString(dir.resolve(".other.json.5.tmp"), "another file's");
        AtomicFiles.write(target, "new".getBytes());
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly(".other.json.5.tmp", "compare.json");
        }
    }

    @Test
    void ioMessagesNameTheFileAndTheReason() {
        assertThat(IoMessages.describe(new AccessDeniedException("/runs/x"), "ignored"))
                .isEqualTo("/runs/x: permission denied");
        assertThat(IoMessages.describe(new IOException("No space left on device"), "/runs/y"))
                .isEqualTo("/runs/y: No space left on device");
    }
}
