package org.ssmpeft.runtime.checkpoint;

import static org.ssmpeft.runtime.checkpoint.MambaCheckpoint.NORM_F;
import static org.ssmpeft.runtime.checkpoint.MambaCheckpoint.layer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Set;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.io.AtomicFolders;
import org.ssmpeft.runtime.safetensors.SafetensorsException;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/**
 * Reads Mamba-2 checkpoint directories: transformers' {@code Mamba2ForCausalLM} ({@code config.json} with
 * model_type "mamba2") or state-spaces' ({@code ssm_cfg.layer = "Mamba2"}, embedding under
 * {@code backbone.embedding.weight}), one {@code model.safetensors} or shards by index, exactly as
 * {@link MambaCheckpoint} does for Mamba-1: every tensor the config implies present with its shape, nothing else,
 * every value finite. {@link #save} writes transformers' layout, which {@link #load} reads back bit for bit.
 */
public final class Mamba2Checkpoint {

    private Mamba2Checkpoint() {
    }

    /** Loads config and weights from {@code dir}. */
    public static Mamba2Weights load(Path dir) throws CheckpointException {
        dir = org.ssmpeft.runtime.io.AtomicFolders.readable(dir).orElse(dir);  // as MambaCheckpoint.load
        Path file = dir.resolve(MambaCheckpoint.CONFIG_FILE);
        Mamba2Config config = Mamba2Config.fromJson(MambaConfig.readJson(file), file.toString());
        try (var source = MambaCheckpoint.TensorSource.open(dir)) {
            return read(dir, config, source);
        }
    }

    /**
     * Writes {@code config.json} (transformers' keys, {@link Mamba2Config#toJson}) and {@code model.safetensors} (F32,
     * Hugging Face names in checkpoint order, conv1d.weight as (C, 1, K), no lm_head when tied) into {@code dir}, as
     * one unit the way {@link MambaCheckpoint#save} does: after a kill the folder holds the old model or the new one.
     */
    public static void save(Mamba2Weights w, Path dir) throws CheckpointException {
        var out = new SafetensorsWriter().metadata("format", "pt");
        w.parameters().forEach((name, t) -> out.putF32(name, t.data(), longs(t)));
        try {
            AtomicFolders.replace(dir, folder -> {
                try {
                    out.write(folder.resolve(MambaCheckpoint.WEIGHTS_FILE));
                } catch (SafetensorsException e) {
                    throw new IOException(e.getMessage(), e);
                }
                AtomicFiles.write(folder.resolve(MambaCheckpoint.CONFIG_FILE),
                        w.config().toJsonString().getBytes(StandardCharsets.UTF_8));
            }, Set.of(MambaCheckpoint.WEIGHTS_FILE, MambaCheckpoint.CONFIG_FILE, MambaCheckpoint.INDEX_FILE));
        } catch (IOException e) {
            throw new CheckpointException("checkpoint " + dir + ": cannot save: " + e.getMessage(), e);
        }
    }

    private static long[] longs(Tensor t) {
        return java.util.Arrays.stream(t.shape()).asLongStream().toArray();
    }

    private static Mamba2Weights read(Path dir, Mamba2Config c, MambaCheckpoint.TensorSource source)
            throws CheckpointException {
        var t = new MambaCheckpoint.CheckedTensors(dir, source, "mamba2 model with layers=" + c.layers()
                + ", d_model=" + c.dModel() + ", heads=" + c.heads() + ", head_dim=" + c.headDim() + ", n_groups="
                + c.groups() + ", d_state=" + c.dState() + ", conv_kernel=" + c.convKernel() + ", vocab="
                + c.vocabSize() + ", use_bias=" + c.useBias() + ", use_conv_bias=" + c.useConvBias());
        long v = c.vocabSize();
        long dm = c.dModel();
        long di = c.dInner();
        long h = c.heads();
        String embeddingName = t.expectEmbedding(c.layers(), v, dm);
        for (int i = 0; i < c.layers(); i++) {
            t.expect(layer(i, "norm.weight"), dm);
            t.expectLinear(i, "mixer.in_proj", c.useBias(), c.inProjWidth(), dm);
            t.expectConv(i, c.useConvBias(), c.convDim(), c.convKernel());
            t.expect(layer(i, "mixer.dt_bias"), h);
            t.expect(layer(i, "mixer.A_log"), h);
            t.expect(layer(i, "mixer.D"), h);
            t.expect(layer(i, "mixer.norm.weight"), di);
            t.expectLinear(i, "mixer.out_proj", c.useBias(), dm, di);
        }
        t.expectNormAndHeadThenCheck(c.tieWordEmbeddings(), v, dm);
        t.requireHeap(c.parameterCount());

        float[] embedding = t.tensor(embeddingName);
        var layers = new ArrayList<Mamba2LayerWeights>();
        for (int i = 0; i < c.layers(); i++) {
            layers.add(new Mamba2LayerWeights(
                    t.tensor(layer(i, "norm.weight")),
                    t.tensor(layer(i, "mixer.in_proj.weight")),
                    t.optional(layer(i, "mixer.in_proj.bias")),
                    t.tensor(layer(i, "mixer.conv1d.weight")),
                    t.optional(layer(i, "mixer.conv1d.bias")),
                    t.tensor(layer(i, "mixer.dt_bias")),
                    t.tensor(layer(i, "mixer.A_log")),
                    t.tensor(layer(i, "mixer.D")),
                    t.tensor(layer(i, "mixer.norm.weight")),
                    t.tensor(layer(i, "mixer.out_proj.weight")),
                    t.optional(layer(i, "mixer.out_proj.bias"))));
        }
        return new Mamba2Weights(c, embedding, layers, t.tensor(NORM_F), t.head(c.tieWordEmbeddings(), embedding));
    }
}
