package org.ssmpeft.runtime.checkpoint;

import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.fixtures.Fixtures;

class MambaConfigTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static MambaConfig parse(String json) throws Exception {
        return MambaConfig.fromJson(JSON.readTree(json), "test.json");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertBad(String json) {
        return assertThatThrownBy(() -> parse(json)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("test.json");
    }

    @Test
    void aConfigFileWithContentAfterTheJsonOrNotInUtf8IsRefusedNamingTheFile() throws Exception {
        String good = Files.readString(Fixtures.mambaTiny().resolve("config.json"));
        Path f = dir.resolve("config.json");
        Files.writeString(f, good.strip() + " x\n");
        assertThatThrownBy(() -> MambaConfig.read(f)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith("config " + f + ": content after the JSON value at line ")
                .hasMessageContaining("found \"x\"");
        Files.writeString(f, good.strip() + "\n{}\n");
        assertThatThrownBy(() -> MambaConfig.read(f)).hasMessageContaining("content after the JSON value");
        byte[] latin1 = (good.strip().substring(0, good.strip().length() - 1) + ", \"note\": \"caf\u00e9\"}")
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        Files.write(f, latin1);
        assertThatThrownBy(() -> MambaConfig.read(f)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith("config " + f + ": not UTF-8 text: byte 0xE9 at offset ");
        Files.writeString(f, good);
        assertThat(MambaConfig.read(f).layers()).isEqualTo(2);
    }

    @Test
    void readsTheTransformersFixtureConfig() throws Exception {
        MambaConfig c = MambaConfig.read(Fixtures.mambaTiny().resolve("config.json"));
        assertThat(c.toShape()).isEqualTo(new ModelShape(ModelFamily.MAMBA, 2, 64, 128, 16, 4, 4, 0, 0, 0, 256));
        assertThat(c.useBias()).isFalse();
        assertThat(c.useConvBias()).isTrue();
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.layerNormEpsilon()).isEqualTo(1e-5);
        assertThat(c.eosTokenId()).isEqualTo(OptionalInt.of(0));
    }

    @Test
    void absentHuggingFaceKeysTakeTransformersDefaults() throws Exception {
        MambaConfig c = parse("{\"model_type\": \"mamba\"}");
        assertThat(c.toShape()).isEqualTo(new ModelShape(ModelFamily.MAMBA, 32, 768, 1536, 16, 48, 4, 0, 0, 0, 50280));
        assertThat(c.useBias()).as("transformers' use_bias default").isTrue();
        assertThat(c.useConvBias()).isTrue();
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.layerNormEpsilon()).isEqualTo(1e-5);
        assertThat(c.expand()).isEqualTo(2);
        assertThat(c.hiddenAct()).isEqualTo("silu");
        assertThat(c.timeStepMin()).isEqualTo(0.001);
        assertThat(c.timeStepMax()).isEqualTo(0.1);
        assertThat(c.timeStepFloor()).isEqualTo(1e-4);
        assertThat(c.timeStepInitScheme()).isEqualTo("random");
        assertThat(c.padTokenId()).isEqualTo(OptionalInt.of(0));
    }

    @Test
    void autoTimeStepRankIsCeilOfHiddenOver16() throws Exception {
        assertThat(parse("{\"hidden_size\": 100, \"time_step_rank\": \"auto\"}").dtRank()).isEqualTo(7);
        assertThat(parse("{\"hidden_size\": 768}").dtRank()).isEqualTo(48);
        assertThat(parse("{\"hidden_size\": 768, \"time_step_rank\": 5}").dtRank()).isEqualTo(5);
    }

    @Test
    void intermediateSizeIsExpandTimesHiddenUnlessGiven() throws Exception {
        assertThat(parse("{\"hidden_size\": 64, \"expand\": 3}").dInner()).isEqualTo(192);
        // transformers sets keys it does not know after __init__, so a stored intermediate_size wins
        assertThat(parse("{\"hidden_size\": 64, \"expand\": 2, \"intermediate_size\": 100}").dInner()).isEqualTo(100);
    }

    @Test
    void nullTokenIdsAreAbsent() throws Exception {
        assertThat(parse("{\"pad_token_id\": null}").padTokenId()).isEmpty();
    }

    @Test
    void stateSpacesConfigPadsTheVocabularyAndUsesMambaSsmDefaults() throws Exception {
        // https://huggingface.co/state-spaces/mamba-130m/blob/main/config.json
        MambaConfig c = parse("{\"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, \"ssm_cfg\": {},"
                + " \"rms_norm\": true, \"residual_in_fp32\": true, \"fused_add_norm\": true,"
                + " \"pad_vocab_size_multiple\": 8}");
        assertThat(c.toShape()).isEqualTo(new ModelShape(ModelFamily.MAMBA, 24, 768, 1536, 16, 48, 4, 0, 0, 0, 50280));
        assertThat(c.useBias()).as("mamba_ssm bias default").isFalse();
        assertThat(c.useConvBias()).isTrue();
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.layerNormEpsilon()).isEqualTo(1e-5);
    }

    @Test
    void hfConfigCarryingLegacyKeysIsReadWithHuggingFaceKeys() throws Exception {
        // the -hf repos keep d_model, n_layer, pad_vocab_size_multiple... which transformers ignores
        MambaConfig c = parse("{\"model_type\": \"mamba\", \"hidden_size\": 768, \"num_hidden_layers\": 24,"
                + " \"vocab_size\": 50280, \"d_model\": 1024, \"n_layer\": 48, \"pad_vocab_size_multiple\": 16,"
                + " \"use_bias\": false, \"ssm_cfg\": {}, \"rms_norm\": true, \"fused_add_norm\": true}");
        assertThat(c.toShape()).isEqualTo(new ModelShape(ModelFamily.MAMBA, 24, 768, 1536, 16, 48, 4, 0, 0, 0, 50280));
    }

    @Test
    void stateSpacesSsmCfgAndTieEmbeddingsAreRead() throws Exception {
        MambaConfig c = parse("{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 250, \"pad_vocab_size_multiple\": 16,"
                + " \"tie_embeddings\": false, \"ssm_cfg\": {\"d_state\": 8, \"d_conv\": 3, \"expand\": 3,"
                + " \"dt_rank\": 10, \"conv_bias\": false, \"bias\": true}}");
        assertThat(c.toShape()).isEqualTo(new ModelShape(ModelFamily.MAMBA, 2, 64, 192, 8, 10, 3, 0, 0, 0, 256));
        assertThat(c.useConvBias()).isFalse();
        assertThat(c.useBias()).isTrue();
        assertThat(c.tieWordEmbeddings()).isFalse();
    }

    @Test
    void stateSpacesMamba2IsRefusedNamingTheKey() {
        assertBad("{\"d_model\": 768, \"n_layer\": 24, \"ssm_cfg\": {\"layer\": \"Mamba2\"}}")
                .hasMessageContaining("key 'ssm_cfg.layer' = \"Mamba2\": expected \"Mamba1\"");
    }

    @Test
    void hfMamba2IsRefusedNamingTheModelType() {
        assertBad("{\"model_type\": \"mamba2\", \"hidden_size\": 64}")
                .hasMessageContaining("key 'model_type' = \"mamba2\": expected \"mamba\"");
    }

    @Test
    void nonIntegerHiddenSizeIsNamedWithItsValue() {
        assertBad("{\"hidden_size\": \"abc\"}").hasMessageContaining("key 'hidden_size' = \"abc\": expected an integer");
        assertBad("{\"hidden_size\": 64.5}").hasMessageContaining("key 'hidden_size' = 64.5: expected an integer");
    }

    @Test
    void nonPositiveDimensionIsNamed() {
        assertBad("{\"num_hidden_layers\": 0}")
                .hasMessageContaining("key 'num_hidden_layers' = 0: expected a positive integer");
        assertBad("{\"state_size\": -16}").hasMessageContaining("key 'state_size' = -16: expected a positive integer");
    }

    @Test
    void badTimeStepRankIsNamed() {
        assertBad("{\"time_step_rank\": \"big\"}")
                .hasMessageContaining("key 'time_step_rank' = \"big\": expected a positive integer or \"auto\"");
    }

    @Test
    void nonBooleanFlagIsNamed() {
        assertBad("{\"use_bias\": \"yes\"}").hasMessageContaining("key 'use_bias' = \"yes\": expected true or false");
    }

    @Test
    void epsilonOutsideZeroToOneIsNamed() {
        for (String eps : new String[] {"0", "-1e-5", "1e308", "1.0", "2"}) {
            assertBad("{\"layer_norm_epsilon\": " + eps + "}")
                    .hasMessageContaining("key 'layer_norm_epsilon' = ")
                    .hasMessageContaining("expected a positive number below 1.0");
        }
    }

    @Test
    void specialTokenIdsOutsideTheVocabularyAreNamed() {
        for (String key : new String[] {"pad_token_id", "bos_token_id", "eos_token_id"}) {
            assertBad("{\"vocab_size\": 100, \"" + key + "\": 100}")
                    .hasMessageContaining("key '" + key + "' = 100: expected a token id in [0, 100)");
            assertBad("{\"vocab_size\": 100, \"" + key + "\": -1}")
                    .hasMessageContaining("key '" + key + "' = -1: expected a token id in [0, 100)");
        }
        assertThatThrownBy(() -> new MambaConfig(10, 4, 2, 1, 1e-5, OptionalInt.of(10), OptionalInt.empty(),
                OptionalInt.empty(), 2, 8, 4, false, true, "silu", 0.1, true, 1, 1.0, 0.001, 0.1, "random", 1e-4,
                false, true, true)).hasMessageContaining("pad_token_id 10 is outside the vocabulary");
    }

    @Test
    void timeStepInitValuesOutsideTheirRangeAreNamed() {
        assertBad("{\"time_step_init_scheme\": \"bogus\"}").hasMessageContaining(
                "key 'time_step_init_scheme' = \"bogus\": expected one of \"random\", \"constant\"");
        assertBad("{\"time_step_min\": -1}")
                .hasMessageContaining("key 'time_step_min' = -1: expected a positive finite number");
        assertBad("{\"time_step_min\": 0.5, \"time_step_max\": 0.1}")
                .hasMessageContaining("key 'time_step_max' = 0.1: expected a finite number >= time_step_min (0.5)");
        assertBad("{\"time_step_floor\": -1e-4}")
                .hasMessageContaining("key 'time_step_floor' = -1.0E-4: expected a non-negative finite number");
        assertBad("{\"time_step_scale\": 0}")
                .hasMessageContaining("key 'time_step_scale' = 0: expected a positive finite number");
        assertBad("{\"initializer_range\": -0.1}")
                .hasMessageContaining("key 'initializer_range' = -0.1: expected a non-negative finite number");
        assertBad("{\"d_model\": 64, \"ssm_cfg\": {\"dt_init\": \"bogus\"}}")
                .hasMessageContaining("key 'ssm_cfg.dt_init' = \"bogus\"");
        assertBad("{\"d_model\": 64, \"ssm_cfg\": {\"dt_min\": 0.2}}")
                .hasMessageContaining("key 'ssm_cfg.dt_max' = (absent): expected a finite number >= ssm_cfg.dt_min");
    }

    @Test
    void unsupportedActivationIsNamed() {
        assertBad("{\"hidden_act\": \"gelu\"}").hasMessageContaining("key 'hidden_act' = \"gelu\": expected \"silu\"");
    }

    @Test
    void badTokenIdIsNamed() {
        assertBad("{\"eos_token_id\": \"</s>\"}").hasMessageContaining("key 'eos_token_id' = \"</s>\"");
    }

    @Test
    void configThatIsNotAnObjectOrNotJsonIsRefused() throws Exception {
        assertBad("[1]").hasMessageContaining("expected a JSON object");
        Path bad = Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": ");
        assertThatThrownBy(() -> MambaConfig.read(bad)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining("not valid JSON");
        Path dup = Files.writeString(dir.resolve("dup.json"), "{\"hidden_size\": 64, \"hidden_size\": 32}");
        assertThatThrownBy(() -> MambaConfig.read(dup)).hasMessageContaining("Duplicate field 'hidden_size'");
    }

    @Test
    void writtenJsonHasTheHuggingFaceKeysAndReadsBackEqual() throws Exception {
        MambaConfig c = MambaConfig.read(Fixtures.mambaTiny().resolve("config.json"));
        JsonNode json = JSON.readTree(c.toJsonString());
        assertThat(json.get("model_type").asText()).isEqualTo("mamba");
        assertThat(json.get("architectures").get(0).asText()).isEqualTo("MambaForCausalLM");
        assertThat(json.get("hidden_size").asInt()).isEqualTo(64);
        assertThat(json.get("intermediate_size").asInt()).isEqualTo(128);
        assertThat(json.get("time_step_rank").asInt()).isEqualTo(4);
        assertThat(json.get("tie_word_embeddings").asBoolean()).isTrue();
        assertThat(MambaConfig.fromJson(json, "written")).isEqualTo(c);
        // every key of the transformers-written fixture config is written back, with the same value where HF-only
        JsonNode fixture = JSON.readTree(Files.readString(Fixtures.mambaTiny().resolve("config.json")));
        fixture.properties().forEach(e -> {
            if (!e.getKey().equals("transformers_version") && !e.getKey().equals("use_associative_scan")
                    && !e.getKey().equals("use_mambapy")) {
                assertThat(json.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
            }
        });
    }
}
