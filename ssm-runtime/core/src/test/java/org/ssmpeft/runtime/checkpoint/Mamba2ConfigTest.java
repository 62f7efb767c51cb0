package org.ssmpeft.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.fixtures.Fixtures;

class Mamba2ConfigTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Mamba2Config read(String json) throws Exception {
        return Mamba2Config.fromJson(JSON.readTree(json), "test.json");
    }

    @Test
    void readsTheFixtureConfigWithTransformersInfinity() throws Exception {
        Mamba2Weights w = Mamba2Checkpoint.load(Fixtures.folder("mamba2-tiny"));
        Mamba2Config c = w.config();
        assertThat(c.heads()).isEqualTo(8);
        assertThat(c.headDim()).isEqualTo(16);
        assertThat(c.groups()).isEqualTo(1);
        assertThat(c.chunkSize()).isEqualTo(8);
        assertThat(c.timeStepLimitMax()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(c.clampsTimeStep()).isFalse();
        assertThat(c.normGroupSize()).isEqualTo(128);
        assertThat(w.shape().stateShape()).containsExactly(8, 16, 16);
        assertThat(w.parameters()).hasSize(2 + 2 * 9); // tied head not listed
        assertThat(Checkpoints.family(Fixtures.folder("mamba2-tiny"))).isEqualTo(ModelFamily.MAMBA2);
        assertThat(Checkpoints.family(Fixtures.folder("mamba-tiny"))).isEqualTo(ModelFamily.MAMBA);
    }

    @Test
    void readsAFiniteLimit() throws Exception {
        Mamba2Config c = Mamba2Checkpoint.load(Fixtures.folder("mamba2-dtclamp")).config();
        assertThat(c.timeStepLimitMin()).isEqualTo(0.02);
        assertThat(c.timeStepLimitMax()).isEqualTo(0.06);
        assertThat(c.clampsTimeStep()).isTrue();
    }

    @Test
    void headsTimesHeadDimMustBeTheInnerWidth() {
        assertThatThrownBy(() -> read("""
                {"model_type": "mamba2", "hidden_size": 16, "num_heads": 3, "head_dim": 8, "n_groups": 1}"""))
                .hasMessageContaining("key 'num_heads' = 3").hasMessageContaining("'head_dim' = 8")
                .hasMessageContaining("expand·hidden_size = 32");
    }

    @Test
    void groupsMustDivideHeads() {
        assertThatThrownBy(() -> read("""
                {"model_type": "mamba2", "hidden_size": 16, "num_heads": 4, "head_dim": 8, "n_groups": 3}"""))
                .hasMessageContaining("key 'n_groups' = 3").hasMessageContaining("divisor of num_heads = 4");
    }

    @Test
    void aBadLimitIsNamed() {
        assertThatThrownBy(() -> read("""
                {"model_type": "mamba2", "hidden_size": 16, "num_heads": 4, "head_dim": 8, "n_groups": 1,
                 "time_step_limit": [0.1, 0.05]}"""))
                .hasMessageContaining("key 'time_step_limit' = [0.1,0.05]").hasMessageContaining("min < max");
        assertThatThrownBy(() -> read("""
                {"model_type": "mamba2", "hidden_size": 16, "num_heads": 4, "head_dim": 8, "n_groups": 1,
                 "time_step_limit": [0.0, "big"]}"""))
                .hasMessageContaining("key 'time_step_limit'");
    }

    @Test
    void readsAStateSpacesMamba2ConfigWithItsNormGroups() throws Exception {
        Mamba2Config c = read("""
                {"d_model": 64, "n_layer": 2, "vocab_size": 250, "pad_vocab_size_multiple": 16,
                 "ssm_cfg": {"layer": "Mamba2", "d_state": 16, "headdim": 16, "ngroups": 2, "chunk_size": 32},
                 "tie_embeddings": true}""");
        assertThat(c.vocabSize()).isEqualTo(256);
        assertThat(c.heads()).isEqualTo(8);
        assertThat(c.groups()).isEqualTo(2);
        assertThat(c.normGroupSize()).isEqualTo(64); // mamba_ssm's RMSNormGated: D / ngroups
        assertThat(Checkpoints.family(JSON.readTree("{\"d_model\": 64, \"ssm_cfg\": {\"layer\": \"Mamba2\"}}")))
                .isEqualTo(ModelFamily.MAMBA2);
    }

    @Test
    void theJsonRoundTrips() throws Exception {
        Mamba2Config c = Mamba2Checkpoint.load(Fixtures.folder("mamba2-groups2-bias-untied")).config();
        assertThat(Mamba2Config.fromJson(c.toJson(), "written")).isEqualTo(c);
    }
}
