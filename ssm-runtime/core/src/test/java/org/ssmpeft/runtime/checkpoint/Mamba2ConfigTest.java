package org.ssmpeft.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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

    @Test
    void parameterCountIsWhatTheCheckpointHolds() throws Exception {
        for (String name : new String[] {"mamba2-tiny", "mamba2-groups2-bias-untied"}) {
            Mamba2Weights w = Mamba2Checkpoint.load(Fixtures.folder(name));
            long held = w.parameters().values().stream().mapToLong(t -> t.size()).sum();
            assertThat(w.config().parameterCount()).as(name).isEqualTo(held);
        }
        assertThat(Mamba2Config.of(256, 1 << 20, 1 << 20, Integer.MAX_VALUE, 64, 1, 64).parameterCount())
                .as("saturates").isEqualTo(Long.MAX_VALUE);
    }

    /**
     * A checkpoint whose headers describe 4 GiB of floats, stored as a sparse file: refused by its size before a
     * single tensor is read (the test JVM runs with -Xmx2g).
     */
    @Test
    void aModelLargerThanTheHeapIsRefusedBeforeItsTensorsAreRead(@TempDir Path dir) throws Exception {
        Mamba2Config c = Mamba2Config.of(32768, 8192, 16, 2, 64, 1, 64);
        assertThat(c.parameterCount() * Float.BYTES).isGreaterThan(Runtime.getRuntime().maxMemory());
        ObjectNode config = c.toJson();
        Files.writeString(dir.resolve("config.json"), config.toString());
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("backbone.embeddings.weight", new long[] {c.vocabSize(), c.dModel()});
        for (int i = 0; i < c.layers(); i++) {
            String p = "backbone.layers." + i + ".";
            shapes.put(p + "norm.weight", new long[] {c.dModel()});
            shapes.put(p + "mixer.in_proj.weight", new long[] {c.inProjWidth(), c.dModel()});
            shapes.put(p + "mixer.conv1d.weight", new long[] {c.convDim(), 1, c.convKernel()});
            shapes.put(p + "mixer.conv1d.bias", new long[] {c.convDim()});
            for (String h : new String[] {"dt_bias", "A_log", "D"}) {
                shapes.put(p + "mixer." + h, new long[] {c.heads()});
            }
            shapes.put(p + "mixer.norm.weight", new long[] {c.dInner()});
            shapes.put(p + "mixer.out_proj.weight", new long[] {c.dModel(), c.dInner()});
        }
        shapes.put("backbone.norm_f.weight", new long[] {c.dModel()});
        ObjectNode header = JSON.createObjectNode();
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long d : e.getValue()) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + 4 * n);
            offset += 4 * n;
        }
        assertThat(offset / 4).isEqualTo(c.parameterCount());
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        try (var f = new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
            f.write(json);
            f.setLength(8 + json.length + offset); // sparse: the data is never written
        }
        assertThatThrownBy(() -> Mamba2Checkpoint.load(dir)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(c.parameterCount() + " parameters")
                .hasMessageContaining("more than this JVM's whole heap");
    }
}
