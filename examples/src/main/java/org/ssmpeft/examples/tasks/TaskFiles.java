package org.ssmpeft.examples.tasks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.ssmpeft.runtime.data.Dataset;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.JsonlData;
import org.ssmpeft.runtime.data.Split;

/**
 * Generates a bundled task's splits and writes them as JSON Lines ({@code train.jsonl}, {@code validation.jsonl},
 * {@code test.jsonl}: {@code {"input", "output", "references"?, ...fields}}, what {@link JsonlData} reads), plus the
 * task's resources. Training lines have one reference each (multi-reference items are exploded); validation and test
 * lines keep every reference for scoring.
 */
public final class TaskFiles {

    /** Default split sizes: training examples, validation and test items. */
    public static final int TRAIN = 1000;
    public static final int VALIDATION = 40;
    public static final int TEST = 100;

    private static final ObjectMapper JSON = new ObjectMapper();

    private TaskFiles() {
    }

    /** The three splits of a task, generated from a seed. */
    public record Splits(List<Example> train, List<Example> validation, List<Example> test) {
    }

    /**
     * Whether an item with this key is held out (validation/test only): a fixed quarter of the key space, by a
     * stable hash (FNV-1a of the UTF-8 bytes), independent of the seed.
     */
    public static boolean heldOut(String key) {
        int h = 0x811c9dc5;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x01000193;
        }
        return Integer.remainderUnsigned(h, 4) == 0;
    }

    /** Generates the splits: training items (may repeat) outside the held-out bucket, distinct held-out items. */
    public static Splits generate(BundledTask task, long seed, int train, int validation, int test) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Example> trainItems = new ArrayList<>();
        int guard = 0;
        while (trainItems.size() < train) {
            Example e = task.draw(rng, false);
            if (!heldOut(e.input())) {
                trainItems.addAll(task.explode(e));
            }
            guard(++guard, train, task);
        }
        List<Example> trainList = trainItems.subList(0, train);
        Set<String> seen = new LinkedHashSet<>();
        List<Example> held = new ArrayList<>();
        guard = 0;
        while (held.size() < validation + test) {
            Example e = task.draw(rng, false);
            if (heldOut(e.input()) && seen.add(e.input())) {
                held.add(e);
            }
            guard(++guard, validation + test, task);
        }
        return new Splits(List.copyOf(trainList), List.copyOf(held.subList(0, validation)),
                List.copyOf(held.subList(validation, validation + test)));
    }

    private static void guard(int draws, int wanted, BundledTask task) {
        if (draws > 1000 * Math.max(wanted, 10)) {
            throw new IllegalStateException("task " + task.name() + ": cannot draw " + wanted
                    + " distinct items; the generator's item space is too small");
        }
    }

    /** Generates the task with default sizes and writes it into {@code dir}. */
    public static Path write(BundledTask task, long seed, Path dir) throws IOException {
        return write(task, generate(task, seed, TRAIN, VALIDATION, TEST), dir);
    }

    public static Path write(BundledTask task, Splits splits, Path dir) throws IOException {
        Files.createDirectories(dir);
        writeLines(dir.resolve("train.jsonl"), splits.train());
        writeLines(dir.resolve("validation.jsonl"), splits.validation());
        writeLines(dir.resolve("test.jsonl"), splits.test());
        task.writeResources(dir);
        return dir;
    }

    private static void writeLines(Path file, List<Example> examples) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Example e : examples) {
            ObjectNode n = JSON.createObjectNode();
            n.put("input", e.input());
            n.put("output", e.output());
            if (e.references().size() > 1) {
                ArrayNode refs = n.putArray("references");
                e.references().forEach(refs::add);
            }
            for (Map.Entry<String, String> f : new java.util.TreeMap<>(e.fields()).entrySet()) {
                n.put(f.getKey(), f.getValue());
            }
            sb.append(JSON.writeValueAsString(n)).append('\n');
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    /** The files {@link #write} leaves in a task's folder: the three splits, then the task's resources. */
    public static List<String> expectedFiles(BundledTask task) {
        List<String> files = new ArrayList<>(List.of("train.jsonl", "validation.jsonl", "test.jsonl"));
        files.addAll(task.resourceFiles());
        return List.copyOf(files);
    }

    /** Reads a split written by {@link #write}, with the task's prompt format. */
    public static Dataset read(BundledTask task, Path dir, Split split) throws IOException {
        Dataset d = JsonlData.loadFile(dir.resolve(split.name().toLowerCase(java.util.Locale.ROOT) + ".jsonl"), split);
        return new Dataset(task.name(), split, d.mode(), task.format(), d.examples());
    }
}
