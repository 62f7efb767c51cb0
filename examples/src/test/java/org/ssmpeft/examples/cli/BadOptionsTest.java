package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A command-line option out of its range, an unknown split, or an output that is a file is a usage error (exit 2)
 * naming the option, the value and what was expected, before any work (issue #16).
 */
class BadOptionsTest {

    @TempDir
    static Path tmp;

    static Stream<Arguments> badOptions() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        return Stream.of(
                Arguments.of(new String[] {"eval", "--task", "sentiment", "--split", "bogus"},
                        "Invalid value for option '--split': expected one of [TRAIN, VALIDATION, TEST]"
                                + " (case-insensitive) but was 'bogus'"),
                Arguments.of(new String[] {"eval", "--task", "sentiment", "--beams", "0"},
                        "--beams: expected an integer >= 1, found 0"),
                Arguments.of(new String[] {"eval", "--task", "sentiment", "--limit", "-5"},
                        "--limit: expected an integer >= 0, found -5"),
                Arguments.of(new String[] {"generate", "--max-new-tokens", "0", "hi"},
                        "--max-new-tokens: expected an integer >= 1, found 0"),
                Arguments.of(new String[] {"generate", "--min-new-tokens", "9", "--max-new-tokens", "4", "hi"},
                        "--min-new-tokens 9 is more than --max-new-tokens 4; expected min <= max"),
                Arguments.of(new String[] {"pretrain", "--out", tmp.resolve("m").toString(), "--layers", "0"},
                        "--layers: expected an integer >= 1, found 0"),
                Arguments.of(new String[] {"pretrain", "--out", tmp.resolve("m").toString(), "--lr", "NaN"},
                        "--lr: expected a finite number > 0, found NaN"),
                Arguments.of(new String[] {"pretrain", "--out", tmp.resolve("m").toString(), "--vocab", "10"},
                        "--vocab: expected an integer >= 258 (the byte tokenizer's ids), found 10"),
                Arguments.of(new String[] {"pretrain", "--out", file.toString()},
                        "--out " + file + " is a file; expected a folder"),
                Arguments.of(new String[] {"tasks", "--task", "sql", "--write", file.toString()},
                        "--write " + file + " is a file; expected a folder"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("badOptions")
    void isAUsageErrorNamingTheOption(String[] args, String expected) throws Exception {
        Cli r = Cli.run(args);
        assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err()).contains(expected);
        assertThat(r.out()).isEmpty();
        assertThat(tmp.resolve("m")).doesNotExist();
        assertThat(Files.readString(tmp.resolve("a-file"))).isEqualTo("x");
    }

    @org.junit.jupiter.api.Test
    void aDataFolderWithoutTheTaskFilesIsRefusedAndNotWrittenInto() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty-data"));
        Cli r = Cli.run("eval", "--task", "sentiment", "--data", empty.toString(), "--limit", "1");
        assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err()).contains(empty.resolve("train.jsonl") + ": the data folder holds no train.jsonl, no"
                + " validation.jsonl, no test.jsonl; expected a folder written by peft tasks --write --task sentiment");
        try (var s = Files.list(empty)) {
            assertThat(s.toList()).as("nothing written into a folder the command reads").isEmpty();
        }
    }
}
