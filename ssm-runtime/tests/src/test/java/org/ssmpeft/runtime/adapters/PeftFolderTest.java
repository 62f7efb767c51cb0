package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/**
 * Folders in the layout Hugging Face PEFT writes (save_pretrained of PEFT 0.17: adapter_config.json with PEFT's keys
 * only, adapter_model.safetensors with {"format": "pt"} and PEFT's key names) load here, and compute what PyTorch
 * computed: the LoRA and prompt values are the fixture's, and the logits are compared with the fixture's PyTorch
 * logits within 1e-4 (the parity tolerance; measured about 1e-6).
 */
class PeftFolderTest {

    private static final double LOGITS_TOL = 1e-4;
    private static final List<String> MODULES = List.of("in_proj", "x_proj", "dt_proj", "out_proj");

    /** adapter_config.json as PEFT 0.17.1's LoraConfig.save_pretrained writes it (sorted keys, indent 2). */
    static final String PEFT_LORA_CONFIG = """
            {
              "alpha_pattern": {},
              "auto_mapping": null,
              "base_model_name_or_path": "state-spaces/mamba-tiny-hf",
              "bias": "none",
              "corda_config": null,
              "eva_config": null,
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_lora_weights": true,
              "layer_replication": null,
              "layers_pattern": null,
              "layers_to_transform": %s,
              "loftq_config": {},
              "lora_alpha": 8,
              "lora_bias": false,
              "lora_dropout": 0.0,
              "megatron_config": null,
              "megatron_core": "megatron.core",
              "modules_to_save": null,
              "peft_type": "LORA",
              "peft_version": "0.17.1",
              "qalora_group_size": 16,
              "r": 4,
              "rank_pattern": {},
              "revision": null,
              "target_modules": %s,
              "target_parameters": null,
              "task_type": "CAUSAL_LM",
              "trainable_token_indices": null,
              "use_dora": false,
              "use_qalora": false,
              "use_rslora": false
            }
            """;

    static final String PEFT_PROMPT_CONFIG = """
            {
              "auto_mapping": null,
              "base_model_name_or_path": "state-spaces/mamba-tiny-hf",
              "inference_mode": true,
              "num_attention_heads": 1,
              "num_layers": 2,
              "num_transformer_submodules": 1,
              "num_virtual_tokens": 5,
              "peft_type": "PROMPT_TUNING",
              "peft_version": "0.17.1",
              "prompt_tuning_init": "RANDOM",
              "prompt_tuning_init_text": null,
              "revision": null,
              "task_type": "CAUSAL_LM",
              "token_dim": 64,
              "tokenizer_kwargs": null,
              "tokenizer_name_or_path": null
            }
            """;

    private static SafetensorsFile peft;
    private static CpuMamba model;
    private static int[][] tokens;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() throws Exception {
        peft = SafetensorsFile.open(Fixtures.mambaTiny().resolve("peft-grads.safetensors"));
        model = new CpuMamba(TinyAdapters.weights());
        try (var ref = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"))) {
            tokens = Fixtures.inputIds(ref);
        }
    }

    @AfterAll
    static void close() {
        peft.close();
    }

    /** Writes the fixture's LoRA factors of these layers and modules under PEFT's keys. */
    static void writePeftLora(Path dir, SafetensorsFile peft, List<Integer> layers, List<String> modules,
                              String layersToTransform, String targetModules) throws Exception {
        var w = new SafetensorsWriter().metadata("format", "pt");
        for (int l : layers) {
            for (String m : modules) {
                for (String part : List.of("lora_A", "lora_B")) {
                    String fixture = "lora.layers." + l + "." + m + "." + part;
                    w.putF32("base_model.model.backbone.layers." + l + ".mixer." + m + "." + part + ".weight",
                            peft.readFloats(fixture), peft.info(fixture).shape());
                }
            }
        }
        Files.createDirectories(dir);
        w.write(dir.resolve("adapter_model.safetensors"));
        Files.writeString(dir.resolve("adapter_config.json"), PEFT_LORA_CONFIG.formatted(layersToTransform,
                targetModules), StandardCharsets.UTF_8);
    }

    @Test
    void aLoraFolderWrittenByPeftLoadsAndGivesPyTorchsLogits() throws Exception {
        writePeftLora(dir, peft, List.of(0, 1), MODULES, "null",
                "[\"x_proj\", \"in_proj\", \"out_proj\", \"dt_proj\"]");

        Adapter lora = AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY);

        assertThat(lora.name()).isEqualTo("default");
        assertThat(lora.method()).isEqualTo("lora");
        assertThat(lora.config()).isEqualTo(new LoraConfig(4, 8.0, 0.0, List.of(Projection.IN_PROJ,
                Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ), false));
        assertThat(lora.parameter("layers.1.x_proj.lora_B").data()).isEqualTo(peft.readFloats(
                "lora.layers.1.x_proj.lora_B"));
        float[] logits = model.forward(tokens, new AdapterSet(TinyAdapters.shape()).add(lora),
                model.newState(2)).values();
        double err = Fixtures.maxAbsDiff(logits, peft.readFloats("lora.logits"));
        System.out.printf("PEFT-layout LoRA folder vs PyTorch logits: max abs error %.3e%n", err);
        assertThat(err).isLessThan(LOGITS_TOL);
    }

    @Test
    void layersToTransformAndANameGivenOnLoad() throws Exception {
        writePeftLora(dir, peft, List.of(1), List.of("in_proj", "x_proj"), "[1]", "[\"in_proj\", \"x_proj\"]");

        Adapter lora = AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY, Optional.of("sql"));

        assertThat(lora.name()).isEqualTo("sql");
        assertThat(lora.layers().resolve(2)).containsExactly(1);
        assertThat(lora.parameters().keySet()).containsExactly("layers.1.in_proj.lora_A", "layers.1.in_proj.lora_B",
                "layers.1.x_proj.lora_A", "layers.1.x_proj.lora_B");
    }

    @Test
    void aRegexTargetModulesIsResolvedFromTheTensorNames() throws Exception {
        writePeftLora(dir, peft, List.of(0), List.of("in_proj", "x_proj"), "null",
                "\".*layers\\\\.0\\\\.mixer\\\\.(in_proj|x_proj)\"");

        Adapter lora = AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY);

        assertThat(((LoraConfig) lora.config()).targets()).containsExactly(Projection.IN_PROJ, Projection.X_PROJ);
        assertThat(lora.layers().resolve(2)).containsExactly(0);
    }

    @Test
    void aPromptTuningFolderWrittenByPeftLoadsAndGivesPyTorchsLogits() throws Exception {
        new SafetensorsWriter().metadata("format", "pt").putF32("prompt_embeddings",
                peft.readFloats("prompt_tuning.virtual_embeddings"), 5, 64).write(dir.resolve(
                "adapter_model.safetensors"));
        Files.writeString(dir.resolve("adapter_config.json"), PEFT_PROMPT_CONFIG);

        Adapter prompt = AdapterFiles.load(dir, TinyAdapters.shape(), TinyAdapters.FACTORY);

        assertThat(prompt.method()).isEqualTo("prompt");
        assertThat(((PromptConfig) prompt.config()).numVirtualTokens()).isEqualTo(5);
        var logits = model.forward(tokens, new AdapterSet(TinyAdapters.shape()).add(prompt), model.newState(2));
        double err = Fixtures.maxAbsDiff(logits.values(), peft.readFloats("prompt_tuning.logits"));
        System.out.printf("PEFT-layout prompt folder vs PyTorch logits: max abs error %.3e%n", err);
        assertThat(err).isLessThan(LOGITS_TOL);
    }

    @Test
    void aLoraFolderWrittenHereHasExactlyPeftsKeysAndConfigValues() throws Exception {
        writePeftLora(dir.resolve("peft"), peft, List.of(0, 1), MODULES, "null",
                "[\"in_proj\", \"x_proj\", \"dt_proj\", \"out_proj\"]");
        Adapter lora = AdapterFiles.load(dir.resolve("peft"), TinyAdapters.shape(), TinyAdapters.FACTORY);

        AdapterFiles.save(lora, dir.resolve("ours"));

        try (var theirs = SafetensorsFile.open(dir.resolve("peft").resolve(AdapterFiles.WEIGHTS_FILE));
             var ours = SafetensorsFile.open(dir.resolve("ours").resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(ours.names()).containsExactlyInAnyOrderElementsOf(theirs.names());
            assertThat(ours.metadata()).isEqualTo(theirs.metadata());
            for (String n : theirs.names()) {
                assertThat(ours.info(n).shape()).isEqualTo(theirs.info(n).shape());
                assertThat(ours.readFloats(n)).isEqualTo(theirs.readFloats(n));
            }
        }
        var theirs = AdapterFiles.JSON.readTree(dir.resolve("peft").resolve(AdapterFiles.CONFIG_FILE).toFile());
        var ours = AdapterFiles.JSON.readTree(dir.resolve("ours").resolve(AdapterFiles.CONFIG_FILE).toFile());
        for (String key : List.of("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "bias",
                "fan_in_fan_out", "modules_to_save", "layers_to_transform", "use_dora", "rank_pattern",
                "alpha_pattern", "init_lora_weights", "auto_mapping", "inference_mode")) {
            assertThat(ours.get(key)).as(key).isEqualTo(theirs.get(key));
        }
    }
}
