package org.ssmpeft.runtime.tokenize;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.testing.ConfigMutator;

/**
 * Property-based fuzzing of {@link HfTokenizer#load}: seeded mutants ({@link ConfigMutator}, some with raw byte
 * damage) of the byte-level BPE fixture's tokenizer.json. Each must load, and then encode and decode text with every
 * id below its vocabSize, or throw a {@link TokenizerException} naming the file; never another exception, a crash of
 * the native library, or more than {@link #PER_INPUT}.
 */
class TokenizerFuzzTest {

    private static final Duration PER_INPUT = Duration.ofSeconds(2);
    static final int MUTANTS = 400;

    @Test
    void mutatedTokenizerFilesLoadAndWorkOrThrowATokenizerExceptionNamingTheFile(@TempDir Path dir)
            throws Exception {
        String seed = Files.readString(HfTokenizerTest.folder().resolve("tokenizer.json"));
        int[] loaded = {0};
        int[] refused = {0};
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            var rnd = new SplittableRandom(16);
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            for (int i = 0; i < MUTANTS; i++) {
                // half text/byte damage, half edits of what the file means (ids, types, merges)
                byte[] bytes = i % 2 == 0 ? ConfigMutator.mutateBytes(seed, rnd)
                        : json.writeValueAsBytes(edit((com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(
                                seed), rnd));
                Path file = dir.resolve("tokenizer.json");
                Files.write(file, bytes);
                String where = "iteration " + i;
                long t0 = System.nanoTime();
                try (HfTokenizer t = HfTokenizer.load(file)) {
                    int[] ids = t.encode("the sql### über 😀");
                    for (int id : ids) {
                        if (id < 0 || id >= t.vocabSize()) {
                            failWith(where, bytes, "encoded id " + id + " outside [0, " + t.vocabSize() + ")", null);
                        }
                    }
                    t.decode(ids);
                    loaded[0]++;
                } catch (TokenizerException e) {
                    if (e.getMessage() == null || !e.getMessage().contains(file.toString())) {
                        failWith(where, bytes, "a TokenizerException that does not name the file: " + e, e);
                    }
                    refused[0]++;
                } catch (Throwable t) {
                    failWith(where, bytes, "threw " + t, t);
                }
                Duration took = Duration.ofNanos(System.nanoTime() - t0);
                if (took.compareTo(PER_INPUT) > 0) {
                    failWith(where, bytes, "took " + took, null);
                }
            }
        });
        System.out.printf("tokenizer.json fuzz campaign: %d mutants, %d loaded and encoded, %d refused naming the"
                + " file%n", MUTANTS, loaded[0], refused[0]);
        assertThat(refused[0]).as("the campaign reaches the refusals").isPositive();
        assertThat(loaded[0]).as("and some mutants are still tokenizers").isPositive();
    }

    /** One or two meaning-level edits: a vocabulary or added-token id moved, the model type or merges changed. */
    private static com.fasterxml.jackson.databind.node.ObjectNode edit(
            com.fasterxml.jackson.databind.node.ObjectNode root, SplittableRandom rnd) {
        var model = (com.fasterxml.jackson.databind.node.ObjectNode) root.get("model");
        var vocab = (com.fasterxml.jackson.databind.node.ObjectNode) model.get("vocab");
        java.util.List<String> tokens = new java.util.ArrayList<>();
        vocab.fieldNames().forEachRemaining(tokens::add);
        for (int n = 1 + rnd.nextInt(2); n > 0; n--) {
            switch (rnd.nextInt(6)) {
                case 0 -> vocab.put(tokens.get(rnd.nextInt(tokens.size())), rnd.nextInt(-3, 2 * tokens.size()));
                case 1 -> ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("added_tokens")
                        .get(rnd.nextInt(root.get("added_tokens").size()))).put("id", rnd.nextInt(-3, 300));
                case 2 -> model.put("type", new String[] {"BPE", "WordLevel", "Unigram", "bpe", ""}[rnd.nextInt(5)]);
                case 3 -> model.remove(new String[] {"merges", "vocab", "type"}[rnd.nextInt(3)]);
                case 4 -> vocab.put("new-" + rnd.nextInt(100), rnd.nextInt(0, 2 * tokens.size()));
                default -> model.withArray("merges").add(tokens.get(rnd.nextInt(tokens.size())) + " " + tokens.get(rnd.nextInt(tokens.size())));
            }
        }
        return root;
    }

    private static void failWith(String where, byte[] bytes, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", "tokenizer-" + where.replace(' ', '-') + ".json");
        try {
            Files.createDirectories(saved.getParent());
            Files.write(saved, bytes);
        } catch (IOException e) {
            saved = Path.of("(not saved: " + e + ")");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        fail(where + ": " + what + "; input saved to " + saved + ":\n"
                + (text.length() > 400 ? text.substring(0, 400) + "..." : text), cause);
    }
}
