package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.testing.ConfigMutator;

/**
 * Property-based fuzzing of the data readers: seeded mutants ({@link ConfigMutator}, some with raw byte damage) of
 * the sample files of each published layout (JSONL, SAMSum, DART, Spider questions, a GLUE TSV). Each must load
 * (every example with non-null input and references) or throw a {@link DataFormatException} naming the file; never
 * another exception, never more than {@link #PER_INPUT}.
 */
class DataFilesFuzzTest {

    private static final Duration PER_INPUT = Duration.ofSeconds(2);
    static final int PER_FORMAT = 300;

    private interface Loader {
        Dataset load(Path file) throws IOException;
    }

    private record Format(String name, Path sample, String fileName, Loader loader) {
    }

    private static List<Format> formats(Path dir) {
        Path spider = TestData.dir("spider");
        return List.of(
                new Format("jsonl", TestData.dir("jsonl").resolve("train.jsonl"), "train.jsonl",
                        f -> JsonlData.loadFile(f, Split.TRAIN)),
                new Format("samsum", TestData.dir("samsum").resolve("train.json"), "train.json",
                        f -> SamsumData.loadFile(f, Split.TRAIN)),
                new Format("dart", TestData.dir("dart").resolve("dart-v1.1.1-full-train.json"), "dart.json",
                        f -> DartData.loadFile(f, Split.TRAIN, Mode.TRAIN)),
                new Format("spider", spider.resolve("dev.json"), "dev.json",
                        f -> SpiderData.loadFiles(f, spider.resolve("tables.json"), spider.resolve("database"), true,
                                Split.VALIDATION)),
                new Format("glue-rte", TestData.dir("glue").resolve("RTE/train.tsv"), "train.tsv",
                        f -> GlueData.loadFile(GlueTask.RTE, f, Split.TRAIN)));
    }

    @Test
    void mutatedDataFilesLoadOrThrowADataFormatExceptionNamingTheFile(@TempDir Path dir) {
        int[] loaded = {0};
        int[] refused = {0};
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            var rnd = new SplittableRandom(16);
            for (Format f : formats(dir)) {
                String seed = Files.readString(f.sample());
                assertThat(f.loader().load(f.sample()).size()).as("the %s sample loads", f.name()).isPositive();
                for (int i = 0; i < PER_FORMAT; i++) {
                    byte[] bytes = ConfigMutator.mutateBytes(seed, rnd);
                    Path file = dir.resolve(f.fileName());
                    Files.write(file, bytes);
                    String where = f.name() + " iteration " + i;
                    long t0 = System.nanoTime();
                    try {
                        Dataset d = f.loader().load(file);
                        for (Example e : d.examples()) {
                            if (e.input() == null || e.references() == null) {
                                failWith(where, bytes, "an example with a null field: " + e, null);
                            }
                        }
                        loaded[0]++;
                    } catch (DataFormatException e) {
                        if (e.getMessage() == null || !e.getMessage().contains(file.toString())) {
                            failWith(where, bytes, "a DataFormatException that does not name the file: " + e, e);
                        }
                        refused[0]++;
                    } catch (Throwable t) {
                        failWith(where, bytes, "threw " + t, t);
                    }
                    Duration took = Duration.ofNanos(System.nanoTime() - t0);
                    if (took.compareTo(PER_INPUT) > 0) {
                        failWith(where, bytes, "took " + took, null);
                    }
                }
            }
        });
        System.out.printf("data files fuzz campaign: %d mutants, %d loaded, %d refused naming the file%n",
                loaded[0] + refused[0], loaded[0], refused[0]);
        assertThat(refused[0]).as("the campaign reaches the refusals").isPositive();
    }

    private static void failWith(String where, byte[] bytes, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", "data-" + where.replace(' ', '-'));
        try {
            Files.createDirectories(saved.getParent());
            Files.write(saved, bytes);
        } catch (IOException e) {
            saved = Path.of("(not saved: " + e + ")");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        fail(where + ": " + what + "; input saved to " + saved + ":\n"
                + (text.length() > 400 ? text.substring(0, 400) + "..." : text), cause);
    }
}
