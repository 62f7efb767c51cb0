package org.ssmpeft.runtime.tokenize;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against {@code src/test/resources/tokenizer/byte-bpe/tokenizer.json}, a GPT-NeoX-style byte-level BPE made by
 * {@code make_tokenizer.py} beside it: ids 0 and 1 special, 2..257 the byte alphabet, then 11 merges.
 */
class HfTokenizerTest {

    @TempDir
    Path tmp;

    static Path folder() {
        try {
            return Path.of(HfTokenizerTest.class.getResource("/tokenizer/byte-bpe/tokenizer.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void encodesWithTheMergesAndTheByteAlphabet() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder().resolve("tokenizer.json"))) {
            assertThat(tok.tokens("the sql###")).containsExactly("t", "he", "Ġsql", "###");
            assertThat(tok.encode("the sql###")).containsExactly(id(tok, "t"), id(tok, "he"), id(tok, "Ġsql"),
                    id(tok, "###"));
            assertThat(tok.tokens(" the in")).containsExactly("Ġthe", "Ġin");
            // bytes without merges: 'é' is two bytes, mapped to two byte-level symbols
            assertThat(tok.encode("é")).hasSize(2);
        }
    }

    @Test
    void roundTripsText() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder())) {
            for (String text : List.of("the sql###", "Question: How many?\\Schema: singer: age number\n###",
                    "ünïcödé 世界 😀", "  spaces  and\ttabs\n", "")) {
                assertThat(tok.decode(tok.encode(text))).as(text).isEqualTo(text);
            }
        }
    }

    @Test
    void specialTokensFromTheFileAndItsConfig() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder())) {
            assertThat(tok.vocabSize()).isEqualTo(2 + 256 + 11);
            assertThat(tok.eosId()).hasValue(0);
            assertThat(tok.bosId()).as("tokenizer_config.json's bos_token").hasValue(0);
            assertThat(tok.padId()).as("no pad_token: pad = eos, as the paper code sets it").hasValue(0);
            assertThat(tok.tokenId("<|padding|>")).hasValue(1);
            assertThat(tok.tokenId("no such token")).isEmpty();
            assertThat(tok.encode("sql<|endoftext|>")).containsExactly(id(tok, "s"), id(tok, "ql"), 0);
            assertThat(tok.decode(new int[] {id(tok, "he"), 0})).isEqualTo("he<|endoftext|>");
            assertThat(tok.decode(new int[] {id(tok, "he"), 0, 1}, true)).isEqualTo("he");
        }
        try (HfTokenizer tok = HfTokenizer.load(folder(), HfTokenizer.Options.defaults().withPad("<|padding|>"))) {
            assertThat(tok.padId()).hasValue(1);
        }
    }

    @Test
    void withoutAConfigEosIsEndoftextAndThereIsNoBos() throws Exception {
        Path file = tmp.resolve("tokenizer.json");
        Files.copy(folder().resolve("tokenizer.json"), file);
        try (HfTokenizer tok = HfTokenizer.load(file)) {
            assertThat(tok.eosId()).hasValue(0);
            assertThat(tok.padId()).hasValue(0);
            assertThat(tok.bosId()).isEmpty();
        }
    }

    @Test
    void noTruncationAt512Tokens() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder())) {
            assertThat(tok.encode("x".repeat(700) + " y".repeat(300))).hasSizeGreaterThan(512);
        }
    }

    @Test
    void invalidUtf8AndUnknownIdsDecodeWithoutThrowing() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder())) {
            int[] e = tok.encode("é");
            assertThat(tok.decode(new int[] {e[0]})).isEqualTo("\uFFFD");
            assertThat(tok.decode(new int[] {id(tok, "he"), 100_000})).startsWith("he");
        }
    }

    @Test
    void concurrentEncodesAgree() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(folder()); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            int[] expected = tok.encode("the sql### in the sql");
            List<Future<int[]>> results = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                results.add(pool.submit(() -> tok.encode("the sql### in the sql")));
            }
            for (Future<int[]> r : results) {
                assertThat(r.get()).containsExactly(expected);
            }
        }
    }

    @Test
    void closedTokenizerFailsClearly() throws Exception {
        HfTokenizer tok = HfTokenizer.load(folder());
        tok.close();
        tok.close();
        assertThatThrownBy(() -> tok.encode("x")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void missingFileIsNamed() {
        Path missing = tmp.resolve("nowhere/tokenizer.json");
        assertThatThrownBy(() -> HfTokenizer.load(missing)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(missing.toAbsolutePath().toString()).hasMessageContaining("nothing is downloaded");
        assertThatThrownBy(() -> HfTokenizer.load(tmp)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(tmp.resolve("tokenizer.json").toString());
    }

    @Test
    void invalidJsonIsNamedWithItsLine() throws Exception {
        Path file = tmp.resolve("tokenizer.json");
        Files.writeString(file, "{\n \"version\": \"1.0\",\n \"model\": {\"type\": \"BPE\",, }\n}");
        assertThatThrownBy(() -> HfTokenizer.load(file)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not valid JSON")
                .hasMessageContaining("line 3");
    }

    @Test
    void jsonThatIsNotATokenizerIsNamed() throws Exception {
        Path file = tmp.resolve("tokenizer.json");
        Files.writeString(file, "{\"vocab\": {\"a\": 0}}");
        assertThatThrownBy(() -> HfTokenizer.load(file)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'model'");
    }

    @Test
    void aTokenizerTheLibraryRejectsIsNamed() throws Exception {
        Path file = tmp.resolve("tokenizer.json");
        Files.writeString(file, "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        assertThatThrownBy(() -> HfTokenizer.load(file)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("model.type = \"NoSuchModel\": expected"
                        + " one of BPE, WordLevel, WordPiece, Unigram");
        Files.writeString(file, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 7}}");
        assertThatThrownBy(() -> HfTokenizer.load(file)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("DJL cannot load");
    }

    /** The fixture's tokenizer.json with {@code edit} applied to its JSON. */
    private Path edited(java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> edit)
            throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(
                folder().resolve("tokenizer.json").toFile());
        edit.accept(root);
        Path file = Files.createTempDirectory(tmp, "tok").resolve("tokenizer.json");
        Files.writeString(file, root.toString());
        return file;
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode vocab(
            com.fasterxml.jackson.databind.node.ObjectNode root) {
        return (com.fasterxml.jackson.databind.node.ObjectNode) root.get("model").get("vocab");
    }

    @Test
    void twoTokensOnOneIdAreRefusedNamingBoth() throws Exception {
        Path file = edited(r -> vocab(r).put("Ġsql", 5));
        assertThatThrownBy(() -> HfTokenizer.load(file)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("model.vocab gives id 5 to two tokens")
                .hasMessageContaining("'Ġsql'");
        Path added = edited(r -> ((com.fasterxml.jackson.databind.node.ObjectNode) r.get("added_tokens").get(1))
                .put("id", 0));
        assertThatThrownBy(() -> HfTokenizer.load(added)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("added_tokens[1] puts '<|padding|>' on id 0, which is already"
                        + " '<|endoftext|>'");
    }

    @Test
    void negativeOrFractionalIdsAreRefusedNamingTheToken() throws Exception {
        Path negative = edited(r -> vocab(r).put("he", -3));
        assertThatThrownBy(() -> HfTokenizer.load(negative)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("model.vocab['he'] = -3: expected a non-negative integer id");
        Path fraction = edited(r -> vocab(r).put("he", 7.5));
        assertThatThrownBy(() -> HfTokenizer.load(fraction)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("model.vocab['he'] = 7.5: expected a non-negative integer id");
    }

    @Test
    void aTokenizerWithIdsBeyondTheModelsVocabularyIsRefusedForThatModel() throws Exception {
        try (Tokenizer t = Tokenizers.forModel(folder(), 269)) {
            assertThat(t.vocabSize()).isEqualTo(269);
        }
        assertThatThrownBy(() -> Tokenizers.forModel(folder(), 268)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("token ids go up to 268, but the model in " + folder()
                        + " has vocab_size 268");
        assertThatThrownBy(() -> Tokenizers.forModel(tmp, 100)).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("byte-level").hasMessageContaining("has vocab_size 100");
    }

    @Test
    void factoryPicksTheFileWhenPresentElseBytes() throws Exception {
        try (Tokenizer t = Tokenizers.forModel(folder())) {
            assertThat(t).isInstanceOf(HfTokenizer.class);
        }
        assertThat(Tokenizers.forModel(tmp)).isSameAs(ByteTokenizer.standard());
        assertThatThrownBy(() -> Tokenizers.forModel(tmp.resolve("absent"))).isInstanceOf(TokenizerException.class)
                .hasMessageContaining("absent");
    }

    private static int id(Tokenizer tok, String token) {
        return tok.tokenId(token).orElseThrow(() -> new AssertionError("not in vocab: " + token));
    }
}
