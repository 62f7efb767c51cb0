package org.ssmpeft.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.ssmpeft.runtime.io.AtomicFiles;

/**
 * What {@code peft compare --out DIR} leaves: {@code compare.json} (the settings, one row per method finished so far
 * and the table as printed), {@code compare.md} (the table) and {@code compare.csv} (one line per row). Rewritten after
 * every method, each file replaced atomically ({@link AtomicFiles}), so a compare killed at any moment leaves the rows
 * of the methods it had finished, whole, never a torn file.
 */
final class CompareResults {

    static final String FILE = "compare.json";
    static final String MARKDOWN = "compare.md";
    static final String CSV = "compare.csv";

    private static final ObjectMapper JSON = new ObjectMapper();

    private CompareResults() {
    }

    /**
     * One method's row; {@code failure} is null when it trained. {@code scores} are the means over the seeds,
     * {@code sd} their sample standard deviations (empty for one seed), {@code validation} the main validation score
     * of each learning rate tried (empty without a grid), {@code seeds} how many seeds were run.
     */
    record Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
               double tokensPerSecond, String failure, double lr, Map<String, Double> sd,
               Map<Double, Double> validation, int seeds) {

        Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
            double tokensPerSecond, String failure, double lr) {
            this(method, params, percent, scores, seconds, tokensPerSecond, failure, lr, Map.of(), Map.of(), 1);
        }
    }

    static void write(Path file, Map<String, Object> settings, List<Row> rows, List<String> table)
            throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.set("settings", JSON.valueToTree(settings));
        ArrayNode a = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = a.addObject();
            o.put("method", r.method());
            if (r.failure() != null) {
                o.put("failure", r.failure());
            } else {
                o.put("trainable_parameters", r.params());
                o.put("percent_of_base", r.percent());
                o.set("scores", JSON.valueToTree(r.scores()));
                if (!r.sd().isEmpty()) {
                    o.set("scores_sd", JSON.valueToTree(r.sd()));
                }
                o.put("seeds", r.seeds());
                if (!r.validation().isEmpty()) {
                    ObjectNode v = o.putObject("validation_by_lr");
                    r.validation().forEach((lr, s) -> v.put(String.format(Locale.ROOT, "%.3e", lr), s));
                }
                o.put("train_seconds", r.seconds());
                o.put("tokens_per_second", r.tokensPerSecond());
            }
            o.put("lr", r.lr());
        }
        root.put("table", String.join("\n", table) + "\n");
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    }

    /** compare.json, compare.md and compare.csv in {@code dir}. */
    static void writeAll(Path dir, Map<String, Object> settings, List<Row> rows, List<String> table)
            throws IOException {
        write(dir.resolve(FILE), settings, rows, table);
        AtomicFiles.write(dir.resolve(MARKDOWN), (String.join("\n", table) + "\n").getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve(CSV), csv(rows).getBytes(StandardCharsets.UTF_8));
    }

    /** One header line, one line per row: score means, then their standard deviations (empty for one seed). */
    static String csv(List<Row> rows) {
        Set<String> names = new LinkedHashSet<>();
        rows.forEach(r -> names.addAll(r.scores().keySet()));
        List<String> header = new ArrayList<>(List.of("method", "lr", "trainable_parameters", "percent_of_base",
                "seeds"));
        names.forEach(header::add);
        names.forEach(n -> header.add(n + "_sd"));
        header.addAll(List.of("train_seconds", "tokens_per_second", "failure"));
        StringBuilder sb = new StringBuilder(String.join(",", header)).append('\n');
        for (Row r : rows) {
            List<String> c = new ArrayList<>(List.of(quote(r.method()), num(r.lr()), Long.toString(r.params()),
                    num(r.percent()), Integer.toString(r.seeds())));
            names.forEach(n -> c.add(r.scores().containsKey(n) ? num(r.scores().get(n)) : ""));
            names.forEach(n -> c.add(r.sd().containsKey(n) ? num(r.sd().get(n)) : ""));
            c.add(num(r.seconds()));
            c.add(num(r.tokensPerSecond()));
            c.add(r.failure() == null ? "" : quote(r.failure()));
            sb.append(String.join(",", c)).append('\n');
        }
        return sb.toString();
    }

    private static String num(double v) {
        return Double.toString(v);
    }

    /** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
    private static String quote(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")
                ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
