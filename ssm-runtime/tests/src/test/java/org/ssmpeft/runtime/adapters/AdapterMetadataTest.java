package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.shape.ModelShape;

/**
 * Issue #16, "adapter metadata outside the hash": what changes the computation in {@code adapter_config.json} is
 * checked on load, not only the weights. PEFT's keys must be what the {@code ssm_peft} record implies; the record
 * itself is hashed ({@code config_sha256}); records saved before that (format 1) still load.
 */
class AdapterMetadataTest {

    private static final ModelShape TINY = TinyAdapters.shape();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final String EDITED = "; the file was edited after it was saved (save the adapter again instead"
            + " of editing it)";

    @TempDir
    Path dir;

    private Adapter load() throws AdapterFileException {
        return AdapterFiles.load(dir, TINY, TinyAdapters.FACTORY);
    }

    private ObjectNode config() throws Exception {
        return (ObjectNode) AdapterFiles.JSON.readTree(dir.resolve(AdapterFiles.CONFIG_FILE).toFile());
    }

    private void edit(Consumer<ObjectNode> change) throws Exception {
        ObjectNode root = config();
        change.accept(root);
        Files.writeString(dir.resolve(AdapterFiles.CONFIG_FILE), AdapterFiles.JSON.writeValueAsString(root));
    }

    private static ObjectNode own(ObjectNode root) {
        return (ObjectNode) root.get(AdapterFiles.OWN_KEY);
    }

    private String refusal(String problem) {
        return "adapter folder " + dir + " cannot be loaded: adapter_config.json: " + problem;
    }

    static Stream<Arguments> editedPeftKeys() {
        return Stream.of(
                // the examples of the issue
                Arguments.of("a state-offset adapter labelled LORA", "offset", "peft_type", F.textNode("LORA"),
                        "peft_type is \"LORA\" but the adapter was saved with peft_type \"SSM_PEFT\""),
                Arguments.of("use_rslora flipped (same weights, another scale)", "lora", "use_rslora",
                        F.booleanNode(true), "use_rslora is true but the adapter was saved with use_rslora false"),
                // each other key PEFT computes with
                Arguments.of("a LoRA adapter labelled prompt tuning", "lora", "peft_type",
                        F.textNode("PROMPT_TUNING"),
                        "peft_type is \"PROMPT_TUNING\" but the adapter was saved with peft_type \"LORA\""),
                Arguments.of("r", "lora", "r", F.numberNode(8), "r is 8 but the adapter was saved with r 4"),
                Arguments.of("lora_alpha", "lora", "lora_alpha", F.numberNode(16),
                        "lora_alpha is 16 but the adapter was saved with lora_alpha 8"),
                Arguments.of("lora_dropout", "lora", "lora_dropout", F.numberNode(0.1),
                        "lora_dropout is 0.1 but the adapter was saved with lora_dropout 0.0"),
                Arguments.of("target_modules", "lora", "target_modules", F.arrayNode().add("in_proj"),
                        "target_modules is [\"in_proj\"] but the adapter was saved with target_modules"
                                + " [\"in_proj\",\"x_proj\",\"dt_proj\",\"out_proj\"]"),
                Arguments.of("layers_to_transform", "lora", "layers_to_transform", F.arrayNode().add(1),
                        "layers_to_transform is [1] but the adapter was saved with layers_to_transform null"),
                Arguments.of("use_dora", "lora", "use_dora", F.booleanNode(true),
                        "use_dora is true but the adapter was saved with use_dora false"),
                Arguments.of("bias", "lora", "bias", F.textNode("all"),
                        "bias is \"all\" but the adapter was saved with bias \"none\""),
                Arguments.of("num_virtual_tokens", "prompt", "num_virtual_tokens", F.numberNode(5),
                        "num_virtual_tokens is 5 but the adapter was saved with num_virtual_tokens 3"),
                Arguments.of("token_dim", "prompt", "token_dim", F.numberNode(128),
                        "token_dim is 128 but the adapter was saved with token_dim 64"),
                Arguments.of("task_type", "prompt", "task_type", F.textNode("SEQ_CLS"),
                        "task_type is \"SEQ_CLS\" but the adapter was saved with task_type \"CAUSAL_LM\""));
    }

    private static Adapter adapter(String kind) {
        return switch (kind) {
            case "offset" -> TinyAdapters.stateOffsetH("offset", 1);
            case "lora" -> TinyAdapters.loraWhole("lora", 2);
            case "prompt" -> TinyAdapters.prompt("prompt", 3);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("editedPeftKeys")
    void anEditedPeftKeyIsRefusedNamingItsValueAndTheSavedOne(String what, String kind, String key, JsonNode value,
                                                             String problem) throws Exception {
        AdapterFiles.save(adapter(kind), dir);
        load();
        edit(root -> root.set(key, value));

        assertThatThrownBy(this::load).isInstanceOf(AdapterFileException.class).hasMessage(refusal(problem
                + EDITED));
    }

    @Test
    void aMissingPeftKeyIsRefused() throws Exception {
        AdapterFiles.save(adapter("lora"), dir);
        edit(root -> root.remove("use_rslora"));

        assertThatThrownBy(this::load).hasMessage(refusal("use_rslora is missing but the adapter was saved with"
                + " use_rslora false" + EDITED));
    }

    @Test
    void aPeftOptionASaveNeverWritesIsRefusedWhenSet() throws Exception {
        AdapterFiles.save(adapter("lora"), dir);
        edit(root -> root.put("use_qalora", true));

        assertThatThrownBy(this::load).hasMessage(refusal("use_qalora is true but the adapter was saved without it"
                + EDITED));
    }

    @Test
    void theRecordEditedConsistentlyWithThePeftKeysIsCaughtByItsHash() throws Exception {
        AdapterFiles.save(adapter("lora"), dir);
        // use_rslora true in both places: everything agrees, only the hash knows (outputs would change: 8/√4, not 8/4)
        edit(root -> {
            root.put("use_rslora", true);
            ((ObjectNode) own(root).get("adapter")).put("use_rslora", true);
        });
        String recorded = own(config()).get("config_sha256").asText();
        String actual = AdapterFiles.recordSha256(own(config()));

        assertThatThrownBy(this::load).hasMessage(refusal("ssm_peft: the record (adapter, model_shape,"
                + " weights_sha256) has SHA-256 " + actual + ", not the config_sha256 " + recorded + " recorded when"
                + " the adapter was saved" + EDITED));
    }

    @Test
    void theRecordEditedAloneIsCaughtByItsHashAndThePeftKeyNamed() throws Exception {
        AdapterFiles.save(adapter("lora"), dir);
        edit(root -> ((ObjectNode) own(root).get("adapter")).put("use_rslora", true));

        AdapterFileException e = org.junit.jupiter.api.Assertions.assertThrows(AdapterFileException.class,
                this::load);
        assertThat(e.problems()).satisfiesExactly(
                p -> assertThat(p).startsWith("adapter_config.json: ssm_peft: the record (adapter, model_shape,"
                        + " weights_sha256) has SHA-256 "),
                // the record is no longer trusted, so the message does not claim which value was saved
                p -> assertThat(p).isEqualTo("adapter_config.json: use_rslora is false but the 'ssm_peft' record"
                        + " implies use_rslora true" + EDITED));
    }

    @ParameterizedTest(name = "model_shape.{0}")
    @MethodSource("shapeFields")
    void anEditedModelShapeIsCaughtByTheRecordsHash(String field) throws Exception {
        AdapterFiles.save(adapter("offset"), dir);
        edit(root -> {
            ObjectNode shape = (ObjectNode) own(root).get("model_shape");
            shape.put(field, shape.get(field).intValue() * 2);
        });
        String recorded = own(config()).get("config_sha256").asText();
        String actual = AdapterFiles.recordSha256(own(config()));

        AdapterFileException e = org.junit.jupiter.api.Assertions.assertThrows(AdapterFileException.class,
                this::load);
        assertThat(e.problems()).contains("adapter_config.json: ssm_peft: the record (adapter, model_shape,"
                + " weights_sha256) has SHA-256 " + actual + ", not the config_sha256 " + recorded + " recorded"
                + " when the adapter was saved" + EDITED);
    }

    static Stream<String> shapeFields() {
        return Stream.of("layers", "d_model", "d_state", "vocab");
    }

    @Test
    void anEditedModelShapeIsAlsoNamedWhereAPeftKeyDependsOnIt() throws Exception {
        AdapterFiles.save(adapter("prompt"), dir);
        edit(root -> ((ObjectNode) own(root).get("model_shape")).put("layers", 4));

        AdapterFileException e = org.junit.jupiter.api.Assertions.assertThrows(AdapterFileException.class,
                this::load);
        assertThat(e.problems()).hasSize(2).last().isEqualTo("adapter_config.json: num_layers is 2 but the"
                + " 'ssm_peft' record implies num_layers 4" + EDITED);
    }

    @Test
    void anEditedConfigHashOrAMissingOneIsRefused() throws Exception {
        AdapterFiles.save(adapter("offset"), dir);
        edit(root -> own(root).put("config_sha256", "0".repeat(64)));
        assertThatThrownBy(this::load).hasMessageContaining("not the config_sha256 " + "0".repeat(64));

        edit(root -> own(root).remove("config_sha256"));
        assertThatThrownBy(this::load).hasMessage(refusal("ssm_peft.config_sha256: expected 64 lower-case hex"
                + " digits, found null"));
    }

    @Test
    void whatDoesNotChangeTheComputationMayBeEditedAndTheLayoutIsFree() throws Exception {
        Adapter original = adapter("lora");
        AdapterFiles.save(original, dir);
        edit(root -> {
            root.put("base_model_name_or_path", "/models/mamba-tiny");
            root.put("revision", "main");
            root.put("inference_mode", false);
            root.put("lora_alpha", 8.0); // the same number
            root.put("peft_version", "0.17.0"); // a key PEFT adds, which changes nothing
        });
        // re-written compactly with the record's keys reversed: the canonical form does not see the layout
        ObjectNode root = config();
        ObjectNode own = own(root);
        ObjectNode reversed = F.objectNode();
        java.util.List<String> keys = new java.util.ArrayList<>();
        own.fieldNames().forEachRemaining(keys::add);
        java.util.Collections.reverse(keys);
        keys.forEach(k -> reversed.set(k, own.get(k)));
        root.set(AdapterFiles.OWN_KEY, reversed);
        Files.writeString(dir.resolve(AdapterFiles.CONFIG_FILE), root.toString());

        Adapter loaded = load();
        original.parameters().forEach((n, t) -> assertThat(loaded.parameter(n).data()).as(n).isEqualTo(t.data()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void aFolderSavedBeforeTheRecordHashLoads(String kind) throws Exception {
        Adapter original = adapter(kind);
        AdapterFiles.save(original, dir);
        // what a save wrote before format 2: the same keys, no config_sha256
        edit(root -> {
            own(root).put("format", 1);
            own(root).remove("config_sha256");
        });

        Adapter loaded = load();
        assertThat(loaded.config()).isEqualTo(original.config());
        original.parameters().forEach((n, t) -> assertThat(loaded.parameter(n).data()).as(n).isEqualTo(t.data()));
    }

    static Stream<String> kinds() {
        return Stream.of("offset", "lora", "prompt");
    }

    @Test
    void aFolderSavedBeforeTheRecordHashStillHasItsPeftKeysChecked() throws Exception {
        AdapterFiles.save(adapter("offset"), dir);
        edit(root -> {
            own(root).put("format", 1);
            own(root).remove("config_sha256");
            root.put("peft_type", "LORA");
        });

        // without the hash the record is not known to be as saved, so neither side is blamed
        assertThatThrownBy(this::load).hasMessage(refusal("peft_type is \"LORA\" but the 'ssm_peft' record implies"
                + " peft_type \"SSM_PEFT\"" + EDITED));
    }

    @Test
    void aNewerFormatIsRefusedNamingTheReadableOnes() throws Exception {
        AdapterFiles.save(adapter("offset"), dir);
        edit(root -> own(root).put("format", 3));

        assertThatThrownBy(this::load).hasMessage(refusal("ssm_peft.format: expected 1 to 2, found 3 (written by a"
                + " newer version of this framework)"));
    }

    @Test
    void aSaveWritesFormat2WithTheRecordsHash() throws Exception {
        AdapterFiles.save(adapter("lora"), dir);
        ObjectNode own = own(config());
        assertThat(own.get("format").asInt()).isEqualTo(2).isEqualTo(AdapterFiles.FORMAT);
        assertThat(own.get("config_sha256").asText()).matches("[0-9a-f]{64}")
                .isEqualTo(AdapterFiles.recordSha256(own));
    }
}
