package org.ssmpeft.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

class MambaCheckpointTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[][] TOKENS = {{1, 2, 3, 250, 17, 0}, {9, 8, 7, 6, 5, 4}};

    @TempDir
    Path dir;

    private record Tensor(float[] data, long[] shape) {
    }

    /** The fixture's tensors, in file order, to edit and write back. */
    private static Map<String, Tensor> fixtureTensors() throws IOException {
        var out = new LinkedHashMap<String, Tensor>();
        try (var f = SafetensorsFile.open(Fixtures.mambaTiny().resolve("model.safetensors"))) {
            for (String n : f.names()) {
                out.put(n, new Tensor(f.readFloats(n), f.info(n).shape()));
            }
        }
        return out;
    }

    private static void writeTensors(Path file, Map<String, Tensor> tensors) throws IOException {
        var w = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((n, t) -> w.putF32(n, t.data(), t.shape()));
        w.write(file);
    }

    /** A checkpoint dir with the fixture config and the fixture tensors after {@code edit}. */
    private Path checkpointWith(Consumer<Map<String, Tensor>> edit) throws IOException {
        Path d = Files.createTempDirectory(dir, "ckpt");
        Files.copy(Fixtures.mambaTiny().resolve("config.json"), d.resolve("config.json"));
        var t = fixtureTensors();
        edit.accept(t);
        writeTensors(d.resolve("model.safetensors"), t);
        return d;
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertLoadFails(Path d) {
        return assertThatThrownBy(() -> MambaCheckpoint.load(d)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(d.toString());
    }

    private static float[] logits(MambaWeights w) {
        return new CpuMamba(w).forward(TOKENS).logits();
    }

    @Test
    void loadsTheFixtureWithTiedHead() throws Exception {
        MambaWeights w = MambaCheckpoint.load(Fixtures.mambaTiny());
        assertThat(w.layers()).hasSize(2);
        assertThat(w.lmHead()).isSameAs(w.embedding());
        assertThat(w.embedding()).hasSize(256 * 64);
        assertThat(w.layers().get(0).convWeight()).hasSize(128 * 4);
        assertThat(w.layers().get(0).inProjBias()).isEmpty();
        assertThat(w.layers().get(0).convBias()).isPresent();
    }

    @Test
    void savedModelReloadsWithIdenticalWeightsAndHuggingFaceLayout() throws Exception {
        MambaWeights w = MambaCheckpoint.load(Fixtures.mambaTiny());
        Path out = dir.resolve("saved");
        MambaCheckpoint.save(w, out);
        try (var f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            try (var ref = SafetensorsFile.open(Fixtures.mambaTiny().resolve("model.safetensors"))) {
                assertThat(f.names()).containsExactlyInAnyOrderElementsOf(ref.names());
                for (String n : ref.names()) {
                    assertThat(f.info(n).shape()).as(n).isEqualTo(ref.info(n).shape());
                    assertThat(f.readFloats(n)).as(n).isEqualTo(ref.readFloats(n));
                }
            }
        }
        assertThat(JSON.readTree(out.resolve("config.json").toFile()).get("model_type").asText()).isEqualTo("mamba");
        MambaWeights back = MambaCheckpoint.load(out);
        assertThat(back.config()).isEqualTo(w.config());
        assertThat(logits(back)).isEqualTo(logits(w));
    }

    @Test
    void untiedModelSavesAndLoadsItsOwnHead() throws Exception {
        MambaWeights w = MambaCheckpoint.load(Fixtures.mambaTiny());
        MambaConfig c = w.config();
        MambaConfig untied = new MambaConfig(c.vocabSize(), c.dModel(), c.dState(), c.layers(), c.layerNormEpsilon(),
                c.padTokenId(), c.bosTokenId(), c.eosTokenId(), c.expand(), c.dInner(), c.convKernel(), c.useBias(),
                c.useConvBias(), c.hiddenAct(), c.initializerRange(), c.residualInFp32(), c.dtRank(),
                c.timeStepScale(), c.timeStepMin(), c.timeStepMax(), c.timeStepInitScheme(), c.timeStepFloor(),
                c.rescalePrenormResidual(), c.useCache(), false);
        float[] head = w.embedding().clone();
        head[5] += 1f;
        MambaCheckpoint.save(new MambaWeights(untied, w.embedding(), w.layers(), w.normF(), head), dir.resolve("u"));
        MambaWeights back = MambaCheckpoint.load(dir.resolve("u"));
        assertThat(back.config().tieWordEmbeddings()).isFalse();
        assertThat(back.lmHead()).isEqualTo(head).isNotSameAs(back.embedding());
    }

    @Test
    void stateSpacesNamingLoadsTheSameModel() throws Exception {
        Path d = checkpointWith(t -> t.put("backbone.embedding.weight", t.remove("backbone.embeddings.weight")));
        Files.writeString(d.resolve("config.json"), "{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 250,"
                + " \"ssm_cfg\": {}, \"rms_norm\": true, \"residual_in_fp32\": true, \"fused_add_norm\": true,"
                + " \"pad_vocab_size_multiple\": 8, \"tie_embeddings\": true}");
        MambaWeights w = MambaCheckpoint.load(d);
        assertThat(w.config().vocabSize()).isEqualTo(256);
        assertThat(logits(w)).isEqualTo(logits(MambaCheckpoint.load(Fixtures.mambaTiny())));
    }

    @Test
    void shardedCheckpointLoadsTheSameModel() throws Exception {
        Path d = Files.createDirectory(dir.resolve("sharded"));
        Files.copy(Fixtures.mambaTiny().resolve("config.json"), d.resolve("config.json"));
        var all = fixtureTensors();
        var first = new LinkedHashMap<String, Tensor>();
        var second = new LinkedHashMap<String, Tensor>();
        var weightMap = JSON.createObjectNode();
        all.forEach((n, t) -> {
            boolean one = n.startsWith("backbone.layers.0.") || n.startsWith("backbone.embeddings");
            (one ? first : second).put(n, t);
            weightMap.put(n, one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        });
        writeTensors(d.resolve("model-00001-of-00002.safetensors"), first);
        writeTensors(d.resolve("model-00002-of-00002.safetensors"), second);
        var index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", 329_000);
        index.set("weight_map", weightMap);
        Files.writeString(d.resolve("model.safetensors.index.json"), index.toString());
        assertThat(logits(MambaCheckpoint.load(d))).isEqualTo(logits(MambaCheckpoint.load(Fixtures.mambaTiny())));
    }

    @Test
    void shardOutsideTheCheckpointDirectoryIsRefused() throws Exception {
        Path d = Files.createDirectory(dir.resolve("escape"));
        Files.copy(Fixtures.mambaTiny().resolve("config.json"), d.resolve("config.json"));
        Files.writeString(d.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"backbone.norm_f.weight\": \"../model.safetensors\"}}");
        assertThatThrownBy(() -> MambaCheckpoint.load(d)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("weight_map['backbone.norm_f.weight'] = \"../model.safetensors\"")
                .hasMessageContaining("expected a file name inside");
    }

    /** A checkpoint of the fixture whose config.json has {@code key} set to {@code value} (raw JSON). */
    private Path checkpointWithConfig(String key, String value) throws IOException {
        Path d = checkpointWith(t -> { });
        var cfg = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(d.resolve("config.json").toFile());
        cfg.set(key, JSON.readTree(value));
        Files.writeString(d.resolve("config.json"), cfg.toString());
        return d;
    }

    @Test
    void aLayerCountTheWeightsDoNotHaveIsRefusedNamingTheKeyBeforeAnythingIsBuilt() throws Exception {
        Path d = checkpointWithConfig("num_hidden_layers", "1000000000");
        long t0 = System.nanoTime();
        assertLoadFails(d).hasMessageContaining("config.json says num_hidden_layers = 1000000000, but the weights"
                + " hold layers 0..1 (2 layers)");
        assertThat((System.nanoTime() - t0) / 1e9).as("seconds to refuse").isLessThan(5.0);
        assertLoadFails(checkpointWithConfig("num_hidden_layers", "3"))
                .hasMessageContaining("num_hidden_layers = 3, but the weights hold layers 0..1");
        assertLoadFails(checkpointWithConfig("num_hidden_layers", "1"))
                .hasMessageContaining("num_hidden_layers = 1, but the weights hold layers 0..1");
    }

    @Test
    void aVocabularyOrWidthTheEmbeddingDoesNotHaveIsRefusedNamingTheKeys() throws Exception {
        assertLoadFails(checkpointWithConfig("vocab_size", "1000000000")).hasMessageContaining(
                "config.json says vocab_size = 1000000000 and hidden_size = 64, but tensor"
                        + " 'backbone.embeddings.weight' has shape [256, 64]; expected [vocab_size, hidden_size]");
        assertLoadFails(checkpointWithConfig("vocab_size", "1000000000000"))
                .hasMessageContaining("key 'vocab_size' = 1000000000000: expected an integer");
    }

    @Test
    void missingTensorIsNamedWithItsExpectedShape() throws Exception {
        Path d = checkpointWith(t -> t.remove("backbone.layers.1.mixer.x_proj.weight"));
        assertLoadFails(d).hasMessageContaining("missing tensor 'backbone.layers.1.mixer.x_proj.weight'"
                + " (expected shape [36, 128])");
    }

    @Test
    void unexpectedTensorIsNamed() throws Exception {
        Path d = checkpointWith(t -> t.put("backbone.layers.0.mixer.in_proj.bias", new Tensor(new float[256],
                new long[] {256})));
        assertLoadFails(d).hasMessageContaining("unexpected tensor 'backbone.layers.0.mixer.in_proj.bias'"
                + " (shape [256])").hasMessageContaining("use_bias=false");
    }

    @Test
    void misShapedTensorIsNamedWithExpectedAndFoundShapes() throws Exception {
        Path d = checkpointWith(t -> t.put("backbone.layers.0.mixer.A_log", new Tensor(new float[128 * 8],
                new long[] {128, 8})));
        assertLoadFails(d).hasMessageContaining("tensor 'backbone.layers.0.mixer.A_log' in model.safetensors:"
                + " expected shape [128, 16], found [128, 8]");
    }

    @Test
    void conv1dWeightMustKeepItsMiddleDimension() throws Exception {
        Path d = checkpointWith(t -> {
            Tensor c = t.get("backbone.layers.0.mixer.conv1d.weight");
            t.put("backbone.layers.0.mixer.conv1d.weight", new Tensor(c.data(), new long[] {128, 4}));
        });
        assertLoadFails(d).hasMessageContaining("expected shape [128, 1, 4], found [128, 4]");
    }

    @Test
    void untiedConfigWithoutHeadNamesTheHead() throws Exception {
        Path d = checkpointWith(t -> { });
        String cfg = Files.readString(d.resolve("config.json")).replace("\"tie_word_embeddings\": true",
                "\"tie_word_embeddings\": false");
        Files.writeString(d.resolve("config.json"), cfg);
        assertLoadFails(d).hasMessageContaining("missing tensor 'lm_head.weight' (expected shape [256, 64])");
    }

    @Test
    void tiedCheckpointMayStillCarryItsHead() throws Exception {
        Path d = checkpointWith(t -> t.put("lm_head.weight", t.get("backbone.embeddings.weight")));
        MambaWeights w = MambaCheckpoint.load(d);
        assertThat(w.lmHead()).isSameAs(w.embedding()); // tied, as transformers ties it
    }

    @Test
    void directoryWithoutWeightsNamesBothFileNames() throws Exception {
        Path d = Files.createDirectory(dir.resolve("empty"));
        Files.copy(Fixtures.mambaTiny().resolve("config.json"), d.resolve("config.json"));
        Files.writeString(d.resolve("pytorch_model.bin"), "pickle");
        assertLoadFails(d).hasMessageContaining("expected model.safetensors or model.safetensors.index.json")
                .hasMessageContaining("pytorch_model.bin is a torch pickle");
    }

    @Test
    void nonFiniteBaseWeightsAreRefusedNamingTheTensorTheIndexAndTheCount() throws Exception {
        String name = "backbone.layers.1.mixer.x_proj.weight";
        Path d = checkpointWith(t -> {
            float[] w = t.get(name).data();
            w[130] = Float.NaN; // row 1, column 2 of [36, 128]
            w[131] = Float.POSITIVE_INFINITY;
            w[4000] = Float.NEGATIVE_INFINITY;
        });
        assertLoadFails(d).hasMessageContaining(d.resolve("model.safetensors").toString())
                .hasMessageContaining("tensor '" + name + "': holds 3 non-finite values of 4608, the first NaN at"
                        + " index 130 [1, 2] of shape [36, 128]; weights must be finite");
    }

    @Test
    void anInfiniteEmbeddingValueIsRefusedToo() throws Exception {
        Path d = checkpointWith(t -> t.get("backbone.embeddings.weight").data()[7] = Float.NEGATIVE_INFINITY);
        assertLoadFails(d).hasMessageContaining("tensor 'backbone.embeddings.weight': holds 1 non-finite value of"
                + " 16384, the first -Inf at index 7 [0, 7] of shape [256, 64]");
    }

    @Test
    void nonFiniteValuesInAShardAreRefusedNamingTheShard() throws Exception {
        Path d = Files.createTempDirectory(dir, "sharded");
        Files.copy(Fixtures.mambaTiny().resolve("config.json"), d.resolve("config.json"));
        var all = fixtureTensors();
        all.get("backbone.norm_f.weight").data()[5] = Float.NaN;
        var first = new LinkedHashMap<String, Tensor>();
        var second = new LinkedHashMap<String, Tensor>();
        var weightMap = JSON.createObjectNode();
        all.forEach((n, t) -> {
            boolean one = n.startsWith("backbone.layers.0.") || n.startsWith("backbone.embeddings");
            (one ? first : second).put(n, t);
            weightMap.put(n, one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        });
        writeTensors(d.resolve("model-00001-of-00002.safetensors"), first);
        writeTensors(d.resolve("model-00002-of-00002.safetensors"), second);
        Files.writeString(d.resolve("model.safetensors.index.json"),
                JSON.writeValueAsString(JSON.createObjectNode().set("weight_map", weightMap)));
        assertLoadFails(d).hasMessageContaining(d.resolve("model-00002-of-00002.safetensors").toString())
                .hasMessageContaining("tensor 'backbone.norm_f.weight': holds 1 non-finite value of 64, the first"
                        + " NaN at index 5;");
    }

    @Test
    void corruptWeightsFileIsReportedAsACheckpointError() throws Exception {
        Path d = checkpointWith(t -> { });
        Files.write(d.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertLoadFails(d).hasMessageContaining("model.safetensors").hasMessageContaining("expected at least 8 bytes");
    }
}
