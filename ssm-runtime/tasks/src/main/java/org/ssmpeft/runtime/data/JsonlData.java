package org.ssmpeft.runtime.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A plain JSON Lines task: one {@code {"input": ..., "output": ...}} object per line (blank lines skipped), trained
 * as a generation task without prefix ({@code input + "###"}, {@code output + eos}). An optional
 * {@code "references"} array of strings gives several acceptable outputs; other string fields are kept as fields.
 */
public final class JsonlData {

    private JsonlData() {
    }

    public static Dataset loadFile(Path file, Split split) throws IOException {
        List<Example> examples = JsonRecords.readLines(file, r -> {
            String input = r.text("input");
            String output = r.text("output");
            List<String> references = new ArrayList<>();
            if (r.node().has("references")) {
                var refs = r.array("references");
                for (int i = 0; i < refs.size(); i++) {
                    if (!refs.get(i).isTextual()) {
                        throw r.error("expected 'references[" + i + "]' to be a string, found " + refs.get(i));
                    }
                    references.add(refs.get(i).asText());
                }
            }
            Map<String, String> fields = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = r.node().fields();
                 it.hasNext(); ) {
                var e = it.next();
                if (e.getValue().isTextual() && !e.getKey().equals("input") && !e.getKey().equals("output")) {
                    fields.put(e.getKey(), e.getValue().asText());
                }
            }
            return new Example(input, output, references, fields);
        });
        return new Dataset("jsonl", split, Mode.TRAIN, PromptFormat.generation(""), examples);
    }
}
