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
 * and the table as printed), {@code compare.md} (the table), {@code compare.csv} (one line per row) and
 * {@code compare.png} (a bar chart of the main score). Rewritten after
 * every method, each file replaced atomically ({@link AtomicFiles}), so a compare killed at any moment leaves the rows
 * of the methods it had finished, whole, never a torn file.
 */
final class CompareResults {

    static final String FILE = "compare.json";
    static final String MARKDOWN = "compare.md";
    static final String CSV = "compare.csv";
    static final String CHART = "compare.png";

    private static final ObjectMapper JSON = new ObjectMapper();

    private CompareResults() {
    }

    /**
     * One method's row; {@code failure} is null when it trained. {@code scores} are the means over the seeds,
     * {@code sd} their sample standard deviations (empty for one seed), {@code validation} the main validation score
     * of each learning rate tried (empty without a grid), {@code seeds} how many seeds were run, {@code peakHeapMiB}
     * the most Java heap in use during any of the method's runs (the whole program's, base model included; not GPU
     * memory), 0 when not measured.
     */
    record Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
               double tokensPerSecond, String failure, double lr, Map<String, Double> sd,
               Map<Double, Double> validation, int seeds, double peakHeapMiB) {

        Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
            double tokensPerSecond, String failure, double lr) {
            this(method, params, percent, scores, seconds, tokensPerSecond, failure, lr, Map.of(), Map.of(), 1, 0);
        }
    }

    /** A compare.json read back: its settings and rows. */
    record Saved(com.fasterxml.jackson.databind.JsonNode settings, List<Row> rows) {
    }

    /** Reads a compare.json written by {@link #write}. */
    static Saved read(Path file) throws IOException {
        com.fasterxml.jackson.databind.JsonNode root = JSON.readTree(file.toFile());
        List<Row> rows = new ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode o : root.path("rows")) {
            String method = o.path("method").asText();
            double lr = o.path("lr").asDouble();
            if (o.has("failure")) {
                rows.add(new Row(method, 0, 0, Map.of(), 0, 0, o.path("failure").asText(), lr));
                continue;
            }
            Map<Double, Double> validation = new java.util.LinkedHashMap<>();
            o.path("validation_by_lr").properties().forEach(e -> validation.put(Double.parseDouble(e.getKey()),
                    e.getValue().asDouble()));
            rows.add(new Row(method, o.path("trainable_parameters").asLong(), o.path("percent_of_base").asDouble(),
                    doubles(o.path("scores")), o.path("train_seconds").asDouble(),
                    o.path("tokens_per_second").asDouble(), null, lr, doubles(o.path("scores_sd")), validation,
                    o.path("seeds").asInt(1), o.path("peak_heap_mib").asDouble()));
        }
        return new Saved(root.path("settings"), rows);
    }

    private static Map<String, Double> doubles(com.fasterxml.jackson.databind.JsonNode n) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asDouble()));
        return out;
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
                o.put("peak_heap_mib", r.peakHeapMiB());
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
        header.addAll(List.of("train_seconds", "tokens_per_second", "peak_heap_mib", "failure"));
        StringBuilder sb = new StringBuilder(String.join(",", header)).append('\n');
        for (Row r : rows) {
            List<String> c = new ArrayList<>(List.of(quote(r.method()), num(r.lr()), Long.toString(r.params()),
                    num(r.percent()), Integer.toString(r.seeds())));
            names.forEach(n -> c.add(r.scores().containsKey(n) ? num(r.scores().get(n)) : ""));
            names.forEach(n -> c.add(r.sd().containsKey(n) ? num(r.sd().get(n)) : ""));
            c.add(num(r.seconds()));
            c.add(num(r.tokensPerSecond()));
            c.add(num(r.peakHeapMiB()));
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
