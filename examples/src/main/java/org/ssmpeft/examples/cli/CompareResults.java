package org.ssmpeft.examples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.io.AtomicFiles;

/**
 * {@code compare.json} in {@code peft compare --out DIR}: the settings, one row per method finished so far and the
 * table as printed. Rewritten after every method, each time replaced atomically ({@link AtomicFiles}), so a compare
 * killed at any moment leaves the rows of the methods it had finished, whole, never a torn file.
 */
final class CompareResults {

    static final String FILE = "compare.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private CompareResults() {
    }

    /** One method's row; {@code failure} is null when it trained. */
    record Row(String method, long params, double percent, Map<String, Double> scores, double seconds,
               double tokensPerSecond, String failure, double lr) {
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
                o.put("train_seconds", r.seconds());
                o.put("tokens_per_second", r.tokensPerSecond());
            }
            o.put("lr", r.lr());
        }
        root.put("table", String.join("\n", table) + "\n");
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    }
}
