package org.ssmpeft.runtime.checkpoint;

import static org.ssmpeft.runtime.checkpoint.MambaCheckpoint.NORM_F;
import static org.ssmpeft.runtime.checkpoint.MambaCheckpoint.layer;

import java.nio.file.Path;
import java.util.ArrayList;

/**
 * Reads Mamba-2 checkpoint directories: transformers' {@code Mamba2ForCausalLM} ({@code config.json} with
 * model_type "mamba2") or state-spaces' ({@code ssm_cfg.layer = "Mamba2"}, embedding under
 * {@code backbone.embedding.weight}), one {@code model.safetensors} or shards by index, exactly as
 * {@link MambaCheckpoint} does for Mamba-1: every tensor the config implies present with its shape, nothing else,
 * every value finite.
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
