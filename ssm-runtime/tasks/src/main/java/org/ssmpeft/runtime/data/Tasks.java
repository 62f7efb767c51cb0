package org.ssmpeft.runtime.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The benchmark loaders by task name, for configurations and the command line. */
public final class Tasks {

    /** The names {@link #load} accepts; GLUE tasks also as {@code glue-<task>}. */
    public static final List<String> NAMES = List.of("spider", "samsum", "dart", "cola", "sst2", "mrpc", "qqp", "qnli",
            "rte", "mnli", "wnli", "jsonl");

    /** Spider's {@code max_seqlen} in the paper code: examples whose input + label exceed it are dropped. */
    public static final int SPIDER_MAX_LENGTH = 1536;

    private Tasks() {
    }

    /**
     * A split of a task from its published folder: Spider's folder, the SAMSum corpus folder, DART's data folder,
     * the GLUE root (holding {@code CoLA/}, {@code SST-2/}, ...), or a folder of {@code train.jsonl},
     * {@code validation.jsonl}, {@code test.jsonl}.
     */
    public static Dataset load(String task, Path dir, Split split, Mode mode) throws IOException {
        String name = task.toLowerCase(Locale.ROOT);
        return switch (name) {
            case "spider" -> SpiderData.load(dir, split);
            case "samsum" -> SamsumData.load(dir, split);
            case "dart" -> DartData.load(dir, split, mode);
            case "jsonl" -> JsonlData.loadFile(dir.resolve(split.name().toLowerCase(Locale.ROOT) + ".jsonl"), split);
            default -> {
                String glue = name.startsWith("glue-") ? name.substring(5) : name;
                try {
                    yield GlueData.load(GlueTask.forName(glue), dir, split);
                } catch (IllegalArgumentException e) {
                    if (!e.getMessage().startsWith("unknown GLUE task")) {
                        throw e;
                    }
                    throw new IllegalArgumentException("unknown task '" + task + "'; known: "
                            + String.join(", ", NAMES), e);
                }
            }
        };
    }

    /** The length bound the paper code trains a task with ({@link #SPIDER_MAX_LENGTH} for Spider), 0 for none. */
    public static int referenceMaxLength(String task) {
        return task.equalsIgnoreCase("spider") ? SPIDER_MAX_LENGTH : 0;
    }
}
