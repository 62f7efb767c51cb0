package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;

/**
 * {@code --data DIR} (and a run config's {@code data:}) is read, never written (issue #15: a folder without
 * {@code train.jsonl} used to receive the generated synthetic task): after {@code eval} and {@code train} every file
 * of the data folder has the same bytes (SHA-256) and no file was added or removed; a folder lacking a file of the
 * layout is refused, naming what was expected, and stays as it was.
 */
class DataFolderReadOnlyTest {

    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void tinyModel() throws Exception {
        model = tmp.resolve("model");
        MambaCheckpoint.save(MambaInit.initialise(MambaConfig.of(264, 16, 4, 1), 3), model);
    }

    /** Every regular file under {@code dir} by relative path, with the SHA-256 of its bytes. */
    static Map<String, String> hashes(Path dir) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f));
                out.put(dir.relativize(f).toString(), HexFormat.of().formatHex(digest));
            }
        }
        return out;
    }

    static Path writeTask(String task) {
        Path dir = tmp.resolve("data-" + task);
        Cli w = Cli.run("tasks", "--write", dir.toString(), "--task", task);
        assertThat(w.exitCode()).as(w.err()).isZero();
        return dir;
    }

    @Test
    void evalLeavesTheDataFolderByteForByteUnchanged() throws Exception {
        Path data = writeTask("sql"); // the SQLite database is opened as well
        Map<String, String> before = hashes(data);
        assertThat(before).containsKeys("train.jsonl", "validation.jsonl", "test.jsonl", "company.sqlite");
        Cli e = Cli.run("eval", "--task", "sql", "--data", data.toString(), "--model", model.toString(), "--limit",
                "2", "--show", "0");
        assertThat(e.exitCode()).as(e.err() + e.out()).isZero();
        assertThat(e.out()).contains("execution_accuracy ");
        assertThat(hashes(data)).isEqualTo(before);
    }

    @Test
    void trainLeavesTheDataFolderByteForByteUnchanged() throws Exception {
        Path data = writeTask("sentiment");
        Map<String, String> before = hashes(data);
        Path cfg = Files.writeString(tmp.resolve("run.yaml"), """
                task: sentiment
                data: %s
                model: %s
                adapter: {method: state-offset, variant: h}
                training: {steps: 2, lr: 1e-2, batch: 2, seed: 42}
                eval: {split: test, limit: 4}
                output: %s
                """.formatted(data, model, tmp.resolve("out/train")));
        Cli r = Cli.run("train", cfg.toString());
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(hashes(data)).isEqualTo(before);
    }

    @Test
    void aFolderMissingOneFileOfTheLayoutIsRefusedNamingItAndLeftAsItWas() throws Exception {
        Path data = writeTask("sql");
        Files.delete(data.resolve("company.sqlite"));
        Map<String, String> before = hashes(data);
        Cli e = Cli.run("eval", "--task", "sql", "--data", data.toString(), "--model", model.toString(), "--limit",
                "1");
        assertThat(e.exitCode()).isEqualTo(1);
        assertThat(e.err()).contains(data.resolve("company.sqlite") + ": the data folder holds no company.sqlite;"
                + " expected a folder written by peft tasks --write --task sql (train.jsonl, validation.jsonl,"
                + " test.jsonl, company.sqlite)");
        assertThat(hashes(data)).isEqualTo(before);
    }
}
