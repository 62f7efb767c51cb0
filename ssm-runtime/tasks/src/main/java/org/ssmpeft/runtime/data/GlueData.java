package org.ssmpeft.runtime.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.regex.Pattern;

/**
 * GLUE tasks in the per-task TSV files of the GLUE distribution (see {@link GlueTask} for each layout). Fields are
 * split on tabs only; quotes are literal (the files are written without quoting, and Hugging Face reads them with
 * {@code csv.QUOTE_NONE}).
 *
 * <p>As the paper code's {@code dataset/glue.py}: input = the first sentence, or for sentence pairs
 * {@code first + "###" + second} (its {@code tokenizer.sep_token}); output = the class index as one digit; the
 * prompt is {@code instruction + input + "###"} and the label carries no eos. Test files (no labels) are refused.
 * Fields: {@code label} (the TSV's label value).
 *
 * <p>STS-B (not in the paper code, see {@link GlueTask}) is generated instead: its output is the similarity score as
 * text ({@link #similarityTarget}) followed by the eos, and a prediction is scored by reading the generated text back
 * as a number ({@link #parseSimilarity}); its {@code label} field keeps the published score, which is what Pearson and
 * Spearman are computed against.
 */
public final class GlueData {

    /** The lowest STS-B similarity score. */
    public static final double SIMILARITY_MIN = 0;

    /** The highest STS-B similarity score. */
    public static final double SIMILARITY_MAX = 5;

    /** A decimal number as Python's {@code float()} reads it, without its {@code inf}, {@code nan} and underscores. */
    private static final Pattern NUMBER = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

    private GlueData() {
    }

    /**
     * A published split from the GLUE folder ({@code <glueDir>/<Task>/train.tsv} or {@code dev.tsv}); MNLI's
     * validation is dev_matched followed by dev_mismatched, as the paper code concatenates them.
     */
    public static Dataset load(GlueTask task, Path glueDir, Split split) throws IOException {
        Path dir = glueDir.resolve(task.directory());
        return switch (split) {
            case TRAIN -> loadFile(task, dir.resolve("train.tsv"), split);
            case VALIDATION -> {
                if (task != GlueTask.MNLI) {
                    yield loadFile(task, dir.resolve("dev.tsv"), split);
                }
                List<Example> all = new ArrayList<>(loadFile(task, dir.resolve("dev_matched.tsv"), split).examples());
                all.addAll(loadFile(task, dir.resolve("dev_mismatched.tsv"), split).examples());
                yield new Dataset(name(task), split, Mode.TRAIN, format(task), all);
            }
            case TEST -> throw new IllegalArgumentException("GLUE test files carry no labels; the paper evaluates on"
                    + " the validation split (dev.tsv)");
        };
    }

    /** The prompt format of a task: its instruction, the separator, no eos (STS-B: an eos after the score). */
    public static PromptFormat format(GlueTask task) {
        return task.regression() ? PromptFormat.instructedGeneration(task.instruction())
                : PromptFormat.classification(task.instruction());
    }

    /**
     * The STS-B training target of a score: rounded to the nearest multiple of 0.2 and written with one decimal
     * ({@code 3.84 -> "3.8"}, {@code 3.9 -> "4.0"}), as T5 casts STS-B to text (Raffel et al. 2020, §2.4); ties go to
     * the even multiple, as {@code tf.round} (and Python's {@code round}) do: {@code 0.1 -> "0.0"}, {@code 0.3 -> "0.4"}.
     */
    public static String similarityTarget(double score) {
        return String.format(Locale.ROOT, "%.1f", Math.rint(score * 5) / 5);
    }

    /**
     * A generated STS-B prediction read as a number: the whole text, blanks around it ignored, must be a finite
     * decimal number ({@code "3.8"}, {@code " 4"}, {@code "2.50"}); anything else ({@code "3.8###"}, {@code "high"},
     * {@code ""}) is empty, an out-of-class prediction. The value is not clipped to [0, 5].
     */
    public static OptionalDouble parseSimilarity(String generated) {
        String t = generated.strip();
        if (!NUMBER.matcher(t).matches()) {
            return OptionalDouble.empty();
        }
        double v = Double.parseDouble(t);
        return Double.isFinite(v) ? OptionalDouble.of(v) : OptionalDouble.empty();
    }

    /** The rows of one TSV file of {@code task}, labelled as {@code split}. */
    public static Dataset loadFile(GlueTask task, Path file, Split split) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw JsonRecords.missing(file);
        }
        List<Example> examples = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long lineNr = 0;
            int first;
            int second = -1;
            int label;
            int width;
            if (task.hasHeader()) {
                line = in.readLine();
                lineNr++;
                if (line == null) {
                    throw DataFormatException.at(file, "line 1", "expected the header row of " + task.directory()
                            + ", the file is empty");
                }
                String[] header = stripBom(line).split("\t", -1);
                Map<String, Integer> columns = new HashMap<>();
                for (int i = 0; i < header.length; i++) {
                    columns.putIfAbsent(header[i], i);
                }
                first = column(file, task, columns, task.firstColumn().orElseThrow());
                if (task.secondColumn().isPresent()) {
                    second = column(file, task, columns, task.secondColumn().get());
                }
                label = column(file, task, columns, task.labelColumn().orElseThrow());
                width = header.length;
            } else {
                first = GlueTask.COLA_SENTENCE_COLUMN;
                label = GlueTask.COLA_LABEL_COLUMN;
                width = 4;
            }
            int needed = Math.max(first, Math.max(second, label)) + 1;
            while ((line = in.readLine()) != null) {
                lineNr++;
                if (lineNr == 1) {
                    line = stripBom(line);
                }
                if (line.isEmpty()) {
                    continue;
                }
                String[] cells = line.split("\t", -1);
                if (cells.length < needed) {
                    throw DataFormatException.at(file, "line " + lineNr, "expected " + width + " tab-separated"
                            + " columns of " + task.directory() + " (" + describe(task, first, second, label)
                            + "), found " + cells.length);
                }
                String value = cells[label].strip();
                String input = second < 0 ? cells[first]
                        : cells[first] + PromptFormat.SEPARATOR + cells[second];
                if (task.regression()) {
                    double score = similarity(file, lineNr, task, label, value);
                    examples.add(new Example(input, similarityTarget(score), Map.of("label", value)));
                    continue;
                }
                int cls = task.labels().indexOf(value);
                if (cls < 0) {
                    throw DataFormatException.at(file, "line " + lineNr, "expected the label column ("
                            + columnName(task, label) + ") to be one of " + task.labels() + ", found '" + value + "'");
                }
                examples.add(new Example(input, Integer.toString(cls), Map.of("label", value)));
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new DataFormatException(file + ": not UTF-8 text (bytes that no UTF-8 character has): expected"
                    + " the tab-separated text of " + task.directory() + "; is it a binary or another encoding?", e);
        }
        return new Dataset(name(task), split, Mode.TRAIN, format(task), examples);
    }

    private static double similarity(Path file, long lineNr, GlueTask task, int label, String value)
            throws DataFormatException {
        OptionalDouble v = parseSimilarity(value);
        if (v.isEmpty() || !(v.getAsDouble() >= SIMILARITY_MIN && v.getAsDouble() <= SIMILARITY_MAX)) {
            throw DataFormatException.at(file, "line " + lineNr, "expected the label column ("
                    + columnName(task, label) + ") to be a similarity score from 0 to 5, found '" + value + "'");
        }
        return v.getAsDouble();
    }

    private static String name(GlueTask task) {
        return "glue-" + task.id();
    }

    private static int column(Path file, GlueTask task, Map<String, Integer> columns, String name)
            throws DataFormatException {
        Integer i = columns.get(name);
        if (i == null) {
            throw DataFormatException.at(file, "line 1 (header)", "expected a column '" + name + "' in the "
                    + task.directory() + " header" + (name.equals("gold_label") || name.equals("label")
                    || name.equals("Quality") || name.equals("is_duplicate") || name.equals("score")
                    ? " (test files carry no labels)" : "") + "; found " + columns.keySet());
        }
        return i;
    }

    private static String describe(GlueTask task, int first, int second, int label) {
        return "sentence in column " + (first + 1) + (second < 0 ? "" : ", second sentence in column " + (second + 1))
                + ", label in column " + (label + 1) + (task.hasHeader() ? "" : "; CoLA files have no header");
    }

    private static String columnName(GlueTask task, int label) {
        return task.labelColumn().map(n -> "'" + n + "'").orElse("column " + (label + 1));
    }

    private static String stripBom(String s) {
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }
}
