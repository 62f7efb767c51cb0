package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * SIGKILL ({@code Process.destroyForcibly}) a process that saves adapter after adapter into one folder, at random
 * moments, 15 times: after every kill the folder loads, whole, as the last version the child reported saved or the
 * one it was saving (every parameter equal to that version: no mix of two), a later save cleans up what the kill
 * left, and other files in the folder survive every save.
 */
@Tag("slow")
class AdapterSaveKillTest {

    @Test
    void aKilledSaveLeavesTheOldAdapterOrTheNewOneWhole(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("README.md"), "notes the user keeps beside the adapter");
        Random rng = new Random(16);
        ModelShape shape = ModelShape.requirePreset("mamba-130m");
        int rounds = 15;
        int midSave = 0;
        for (int round = 0; round < rounds; round++) {
            int first = (round + 1) * 1000;
            AtomicInteger lastSaved = new AtomicInteger(-1);
            Process child = start(dir, first);
            Thread reader = Thread.ofVirtual().start(() -> {
                try (var in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("saved ")) {
                            lastSaved.set(Integer.parseInt(line.substring(6).trim()));
                        }
                    }
                } catch (Exception ignored) {
                    // the pipe breaks when the child is killed
                }
            });
            int wanted = 2 + rng.nextInt(6);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (lastSaved.get() < first + wanted) {
                assertThat(child.isAlive()).as("the child died before it was killed").isTrue();
                assertThat(System.nanoTime()).as("the child saves too slowly").isLessThan(deadline);
                Thread.sleep(1);
            }
            Thread.sleep(rng.nextInt(25)); // somewhere inside a later save
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
            reader.join(5000);
            int saved = lastSaved.get();

            Adapter loaded = AdapterFiles.load(dir, shape, TinyAdapters.FACTORY);
            float v = loaded.parameters().values().iterator().next().data()[0];
            for (Tensor t : loaded.parameters().values()) {
                for (float x : t.data()) {
                    assertThat(x).as("round %d: one version in every tensor", round).isEqualTo(v);
                }
            }
            assertThat((int) v).as("round %d: the last reported save or the one in progress", round)
                    .isBetween(saved, saved + 2);
            if ((int) v != saved) {
                midSave++;
            }
        }
        // one more save settles whatever the last kill left: no staging or replaced folders, no temporary files
        AdapterFiles.save(AdapterSaveProcess.adapter(7), dir);
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("adapter");
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("README.md",
                    AdapterFiles.CONFIG_FILE, AdapterFiles.WEIGHTS_FILE);
        }
        assertThat(Files.readString(dir.resolve("README.md"))).isEqualTo("notes the user keeps beside the adapter");
        System.out.printf("adapter save kill campaign: %d kills, %d of them found a save past the last reported"
                + " one, every folder loaded whole%n", rounds, midSave);
    }

    /** The instant between the two renames, made by hand: the folder is gone, the previous version beside it. */
    @Test
    void betweenTheTwoRenamesTheReaderFindsThePreviousVersionAndTheNextSaveRestoresOrder(@TempDir Path tmp)
            throws Exception {
        ModelShape shape = ModelShape.requirePreset("mamba-130m");
        Path dir = tmp.resolve("adapter");
        AdapterFiles.save(AdapterSaveProcess.adapter(3), dir);
        Path replaced = tmp.resolve(".adapter.replaced-42");
        Files.move(dir, replaced);
        Files.createDirectories(tmp.resolve(".adapter.saving-99"));   // the new version's half-written staging
        Files.writeString(tmp.resolve(".adapter.saving-99").resolve(AdapterFiles.CONFIG_FILE), "{");

        Adapter loaded = AdapterFiles.load(dir, shape, TinyAdapters.FACTORY);
        assertThat(loaded.parameters().values().iterator().next().data()[0]).isEqualTo(3f);
        assertThat(Files.exists(dir)).as("a load writes nothing").isFalse();

        AdapterFiles.save(AdapterSaveProcess.adapter(4), dir);
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("adapter");
        }
        assertThat(AdapterFiles.load(dir, shape, TinyAdapters.FACTORY).parameters().values().iterator().next()
                .data()[0]).isEqualTo(4f);
    }

    private static Process start(Path dir, int first) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(AdapterSaveProcess.class.getName());
        cmd.add(dir.toString());
        cmd.add(Integer.toString(first));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }
}
