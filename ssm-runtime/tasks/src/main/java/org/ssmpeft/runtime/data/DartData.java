package org.ssmpeft.runtime.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * DART (Nan et al., 2021) in its published layout ({@code dart-v1.1.1-full-{train,dev,test}.json}: a JSON array of
 * {@code {tripleset: [[s, p, o], ...], subtree_was_extended, annotations: [{source, text}, ...]}}).
 *
 * <p>As the paper code's {@code dataset/dart.py}: prefix {@code "Generate text for the following RDF triples:\n"}
 * (tokenised on its own), input = the triples linearised as {@code "s : p : o | s : p : o"}. In {@link Mode#TRAIN}
 * every annotation becomes its own example (pandas {@code explode}); in {@link Mode#GENERATE} one example per triple
 * set whose output is all reference texts joined by {@code ###} (the code's {@code sep_token.join(text)}, split back
 * for scoring) and whose {@link Example#references()} are the texts. Fields: {@code source} (the annotation's, in
 * training mode).
 */
public final class DartData {

    private DartData() {
    }

    /** A published split from the DART data folder (dart-v1.1.1-full-train/dev/test.json). */
    public static Dataset load(Path dir, Split split, Mode mode) throws IOException {
        String file = switch (split) {
            case TRAIN -> "dart-v1.1.1-full-train.json";
            case VALIDATION -> "dart-v1.1.1-full-dev.json";
            case TEST -> "dart-v1.1.1-full-test.json";
        };
        return loadFile(dir.resolve(file), split, mode);
    }

    /** The triple sets of one file, labelled as {@code split}. */
    public static Dataset loadFile(Path file, Split split, Mode mode) throws IOException {
        List<List<Example>> perSet = JsonRecords.readArray(file, r -> {
            JsonNode triples = r.array("tripleset");
            List<String> linear = new ArrayList<>();
            for (int t = 0; t < triples.size(); t++) {
                JsonNode triple = triples.get(t);
                if (!triple.isArray() || triple.size() == 0) {
                    throw r.error("expected 'tripleset[" + t + "]' to be [subject, predicate, object], found "
                            + triple);
                }
                List<String> parts = new ArrayList<>();
                for (JsonNode part : triple) {
                    if (!part.isTextual()) {
                        throw r.error("expected the parts of 'tripleset[" + t + "]' to be strings, found " + part);
                    }
                    parts.add(part.asText());
                }
                linear.add(String.join(" : ", parts));
            }
            String input = String.join(" | ", linear);
            JsonNode annotations = r.array("annotations");
            List<String> texts = new ArrayList<>();
            List<String> sources = new ArrayList<>();
            for (int a = 0; a < annotations.size(); a++) {
                texts.add(r.text(annotations.get(a), "text", "annotations[" + a + "]."));
                sources.add(r.text(annotations.get(a), "source", "annotations[" + a + "]."));
            }
            if (mode == Mode.TRAIN) {
                List<Example> out = new ArrayList<>();
                for (int a = 0; a < texts.size(); a++) {
                    out.add(new Example(input, texts.get(a), Map.of("source", sources.get(a))));
                }
                return out;
            }
            if (texts.isEmpty()) {
                throw r.error("expected at least one entry in 'annotations' to score against");
            }
            for (String t : texts) {
                if (t.contains(PromptFormat.SEPARATOR)) {
                    throw r.error("a reference text contains the separator '###', so the joined references could"
                            + " not be split back: " + t);
                }
            }
            return List.of(new Example(input, String.join(PromptFormat.SEPARATOR, texts), texts,
                    Map.of("source", String.join(PromptFormat.SEPARATOR, sources))));
        });
        List<Example> examples = perSet.stream().flatMap(List::stream).toList();
        return new Dataset("dart", split, mode, PromptFormat.generation(PromptFormat.DART_PREFIX), examples);
    }

    /** The reference linearisation: triples joined by {@code " | "}, their parts by {@code " : "}. */
    public static String linearize(List<List<String>> triples) {
        return String.join(" | ", triples.stream().map(t -> String.join(" : ", t)).toList());
    }
}
