package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.safetensors.DType;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/** The contract item "save -> load -> same logits bit for bit", for every built-in method, and the on-disk layout. */
class AdapterFilesRoundTripTest {

    private static MambaWeights weights;
    private static CpuMamba model;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        weights = TinyAdapters.weights();
        model = new CpuMamba(weights);
    }

    static Stream<Arguments> adapters() {
        return Stream.of(
                Arguments.of("state-offset h", TinyAdapters.stateOffsetH("offset-h", 1)),
                Arguments.of("state-offset y", TinyAdapters.stateOffsetY("offset-y", 2)),
                Arguments.of("initial-state", TinyAdapters.initialState("h0", 3)),
                Arguments.of("additional-scan", TinyAdapters.additionalScan("scan", 9)),
                Arguments.of("prompt", TinyAdapters.prompt("prompt", 4)),
                Arguments.of("prefix", TinyAdapters.prefix("prefix", false, 5)),
                Arguments.of("prefix with MLP", TinyAdapters.prefix("prefix-mlp", true, 6)),
                Arguments.of("lora on whole projections", TinyAdapters.loraWhole("lora", 7)),
                Arguments.of("lora on row blocks and the head, rsLoRA, layer 1",
                        TinyAdapters.loraBlocks("lora-blocks", 8)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adapters")
    void saveThenLoadGivesTheSameTensorsAndLogitsBitForBit(String what, Adapter original) throws Exception {
        Path dir = tmp.resolve(original.name());
        AdapterFiles.save(original, dir);

        Adapter loaded = AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY);

        assertThat(loaded).isNotSameAs(original);
        assertThat(loaded.name()).isEqualTo(original.name());
        assertThat(loaded.method()).isEqualTo(original.method());
        assertThat(loaded.config()).isEqualTo(original.config());
        assertThat(loaded.layers()).isEqualTo(original.layers());
        assertThat(loaded.parameters().keySet()).containsExactlyElementsOf(original.parameters().keySet());
        original.parameters().forEach((n, t) -> assertThat(loaded.parameter(n).data()).as(n).isEqualTo(t.data()));
        int[][] tokens = TinyAdapters.tokens(11);
        float[] expected = model.forward(tokens, new AdapterSet(TinyAdapters.shape()).add(original),
                model.newState(2)).values();
        float[] actual = model.forward(tokens, new AdapterSet(TinyAdapters.shape()).add(loaded),
                model.newState(2)).values();
        assertThat(actual).isEqualTo(expected);
        assertThat(actual).isNotEqualTo(model.forward(tokens, model.noAdapters(), model.newState(2)).values());
    }

    @Test
    void loraOnWholeProjectionsIsWrittenInPeftsLayout() throws Exception {
        Adapter lora = TinyAdapters.loraWhole("lora", 7);
        AdapterFiles.save(lora, tmp, java.util.Optional.of("state-spaces/mamba-tiny-hf"));

        assertThat(Files.list(tmp).map(p -> p.getFileName().toString()).sorted().toList())
                .containsExactly("adapter_config.json", "adapter_model.safetensors");
        try (var f = SafetensorsFile.open(tmp.resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(f.metadata()).isEqualTo(Map.of("format", "pt"));
            assertThat(f.names()).hasSize(16).contains(
                    "base_model.model.backbone.layers.0.mixer.in_proj.lora_A.weight",
                    "base_model.model.backbone.layers.0.mixer.in_proj.lora_B.weight",
                    "base_model.model.backbone.layers.1.mixer.x_proj.lora_A.weight",
                    "base_model.model.backbone.layers.1.mixer.dt_proj.lora_B.weight",
                    "base_model.model.backbone.layers.1.mixer.out_proj.lora_B.weight");
            var a = f.info("base_model.model.backbone.layers.0.mixer.in_proj.lora_A.weight");
            assertThat(a.dtype()).isEqualTo(DType.F32);
            assertThat(a.shape()).containsExactly(4, 64);
            assertThat(f.info("base_model.model.backbone.layers.0.mixer.in_proj.lora_B.weight").shape())
                    .containsExactly(256, 4);
        }
        JsonNode c = AdapterFiles.JSON.readTree(tmp.resolve(AdapterFiles.CONFIG_FILE).toFile());
        assertThat(c.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(c.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        assertThat(c.get("r").asInt()).isEqualTo(4);
        assertThat(c.get("lora_alpha").isIntegralNumber()).isTrue();
        assertThat(c.get("lora_alpha").asInt()).isEqualTo(8);
        assertThat(c.get("lora_dropout").asDouble()).isEqualTo(0.0);
        assertThat(c.get("use_rslora").asBoolean()).isFalse();
        assertThat(c.get("bias").asText()).isEqualTo("none");
        assertThat(c.get("fan_in_fan_out").asBoolean()).isFalse();
        assertThat(c.get("modules_to_save").isNull()).isTrue();
        assertThat(c.get("layers_to_transform").isNull()).isTrue();
        assertThat(c.get("base_model_name_or_path").asText()).isEqualTo("state-spaces/mamba-tiny-hf");
        assertThat(c.get("target_modules")).extracting(JsonNode::asText)
                .containsExactly("in_proj", "x_proj", "dt_proj", "out_proj");
        JsonNode own = c.get("ssm_peft");
        assertThat(own.get("format").asInt()).isEqualTo(AdapterFiles.FORMAT);
        assertThat(own.get("config_sha256").asText()).isEqualTo(AdapterFiles.recordSha256(own));
        assertThat(own.get("adapter").get("method").asText()).isEqualTo("lora");
        assertThat(own.get("model_shape").get("d_model").asInt()).isEqualTo(64);
        assertThat(own.get("weights_sha256").asText())
                .isEqualTo(AdapterFiles.sha256(tmp.resolve(AdapterFiles.WEIGHTS_FILE)));
        // keys sorted, as PEFT's save_pretrained writes them
        List<String> keys = new java.util.ArrayList<>();
        c.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).isSorted();
    }

    @Test
    void rowBlocksHeadAndSsmMethodsAreMarkedSoPeftRefusesThemByName() throws Exception {
        AdapterFiles.save(TinyAdapters.loraBlocks("blocks", 8), tmp.resolve("blocks"));
        AdapterFiles.save(TinyAdapters.stateOffsetH("offset", 1), tmp.resolve("offset"));
        AdapterFiles.save(TinyAdapters.prompt("prompt", 4), tmp.resolve("prompt"));

        assertThat(peftType("blocks")).isEqualTo("SSM_PEFT");
        assertThat(peftType("offset")).isEqualTo("SSM_PEFT");
        assertThat(peftType("prompt")).isEqualTo("PROMPT_TUNING");
        assertThat(names("blocks")).containsExactly(
                "base_model.model.lm_head.lora_A.weight", "base_model.model.lm_head.lora_B.weight",
                "base_model.model.backbone.layers.1.mixer.in_proj.z.lora_A.weight",
                "base_model.model.backbone.layers.1.mixer.in_proj.z.lora_B.weight",
                "base_model.model.backbone.layers.1.mixer.x_proj.dt.lora_A.weight",
                "base_model.model.backbone.layers.1.mixer.x_proj.dt.lora_B.weight",
                "base_model.model.backbone.layers.1.mixer.x_proj.C.lora_A.weight",
                "base_model.model.backbone.layers.1.mixer.x_proj.C.lora_B.weight");
        assertThat(names("offset")).containsExactly("base_model.model.backbone.layers.0.mixer.state_offset",
                "base_model.model.backbone.layers.1.mixer.state_offset");
        assertThat(names("prompt")).containsExactly("prompt_embeddings");
        JsonNode prompt = AdapterFiles.JSON.readTree(tmp.resolve("prompt").resolve(AdapterFiles.CONFIG_FILE)
                .toFile());
        assertThat(prompt.get("num_virtual_tokens").asInt()).isEqualTo(3);
        assertThat(prompt.get("token_dim").asInt()).isEqualTo(64);
    }

    @Test
    void prefixWithMlpKeepsItsMlpUnderTheModel() {
        assertThat(AdapterKeys.of(TinyAdapters.prefix("p", true, 5)).values()).containsExactly(
                "base_model.model.prefix_embeddings", "base_model.model.mlp.0.weight", "base_model.model.mlp.0.bias",
                "base_model.model.mlp.2.weight", "base_model.model.mlp.2.bias");
    }

    @Test
    void additionalScanIsSavedUnderEachLayersMixerWithoutAKeyMapping() throws Exception {
        assertThat(AdapterKeys.of(TinyAdapters.additionalScan("scan", 9)).values()).containsExactly(
                "base_model.model.backbone.layers.0.mixer.a_extra", "base_model.model.backbone.layers.0.mixer.b_extra",
                "base_model.model.backbone.layers.0.mixer.c_extra", "base_model.model.backbone.layers.1.mixer.a_extra",
                "base_model.model.backbone.layers.1.mixer.b_extra", "base_model.model.backbone.layers.1.mixer.c_extra");
        AdapterFiles.save(TinyAdapters.additionalScan("scan", 9), tmp.resolve("scan"));
        assertThat(peftType("scan")).isEqualTo("SSM_PEFT");
        JsonNode own = AdapterFiles.JSON.readTree(tmp.resolve("scan").resolve(AdapterFiles.CONFIG_FILE).toFile())
                .get("ssm_peft").get("adapter");
        assertThat(own.get("method").asText()).isEqualTo("additional-scan");
        assertThat(own.get("n_extra").asInt()).isEqualTo(4);
        assertThat(own.get("a_init").asText()).isEqualTo("log-range");
    }

    private String peftType(String dir) throws Exception {
        return AdapterFiles.JSON.readTree(tmp.resolve(dir).resolve(AdapterFiles.CONFIG_FILE).toFile())
                .get("peft_type").asText();
    }

    private List<String> names(String dir) throws Exception {
        try (var f = SafetensorsFile.open(tmp.resolve(dir).resolve(AdapterFiles.WEIGHTS_FILE))) {
            return f.names();
        }
    }
}
