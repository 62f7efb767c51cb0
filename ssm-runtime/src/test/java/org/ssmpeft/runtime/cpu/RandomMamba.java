package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/** Small random Mamba-1 models and inputs for gradient checks (seeded, so every run sees the same numbers). */
final class RandomMamba {

    private RandomMamba() {
    }

    /** transformers' defaults (tied head, conv bias, no linear biases) at the given size. */
    static MambaConfig config(int vocab, int dModel, int dState, int layers) {
        return MambaConfig.of(vocab, dModel, dState, layers);
    }

    /** The same with in_proj/out_proj biases and an untied head. */
    static MambaConfig untiedWithBias(int vocab, int dModel, int dState, int layers) {
        MambaConfig c = MambaConfig.of(vocab, dModel, dState, layers);
        return new MambaConfig(c.vocabSize(), c.dModel(), c.dState(), c.layers(), c.layerNormEpsilon(), c.padTokenId(),
                c.bosTokenId(), c.eosTokenId(), c.expand(), c.dInner(), c.convKernel(), true, c.useConvBias(),
                c.hiddenAct(), c.initializerRange(), c.residualInFp32(), c.dtRank(), c.timeStepScale(),
                c.timeStepMin(), c.timeStepMax(), c.timeStepInitScheme(), c.timeStepFloor(),
                c.rescalePrenormResidual(), c.useCache(), false);
    }

    static MambaWeights weights(MambaConfig c, long seed) {
        var rng = new Random(seed);
        int dm = c.dModel();
        int di = c.dInner();
        int n = c.dState();
        int r = c.dtRank();
        int k = c.convKernel();
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            float[] aLog = new float[di * n];
            for (int d = 0; d < di; d++) {
                for (int i = 0; i < n; i++) {
                    aLog[d * n + i] = (float) (Math.log(i + 1) + 0.1 * rng.nextGaussian());
                }
            }
            float[] dtBias = new float[di];
            for (int d = 0; d < di; d++) {
                dtBias[d] = (float) (-2.5 + 0.5 * rng.nextGaussian()); // dt ≈ softplus(-2.5) ≈ 0.08
            }
            layers.add(new LayerWeights(around(rng, dm, 1, 0.2), normal(rng, 2 * di * dm, 1 / Math.sqrt(dm)),
                    c.useBias() ? Optional.of(normal(rng, 2 * di, 0.1)) : Optional.empty(),
                    normal(rng, di * k, 0.5), c.useConvBias() ? Optional.of(normal(rng, di, 0.1)) : Optional.empty(),
                    normal(rng, (r + 2 * n) * di, 1 / Math.sqrt(di)), normal(rng, di * r, 1 / Math.sqrt(r)), dtBias,
                    aLog, around(rng, di, 1, 0.2), normal(rng, dm * di, 1 / Math.sqrt(di)),
                    c.useBias() ? Optional.of(normal(rng, dm, 0.1)) : Optional.empty()));
        }
        float[] emb = normal(rng, c.vocabSize() * dm, 1.0);
        float[] head = c.tieWordEmbeddings() ? emb : normal(rng, c.vocabSize() * dm, 1.0);
        return new MambaWeights(c, emb, layers, around(rng, dm, 1, 0.2), head);
    }

    static int[][] tokens(int batch, int len, int vocab, long seed) {
        var rng = new Random(seed);
        int[][] t = new int[batch][len];
        for (int[] row : t) {
            for (int i = 0; i < len; i++) {
                row[i] = rng.nextInt(vocab);
            }
        }
        return t;
    }

    /** Overwrites every parameter of the adapter with N(0, std²) values (so zero-initialised ones act too). */
    static <A extends Adapter> A randomize(A adapter, double std, long seed) {
        var rng = new Random(seed);
        for (Tensor t : adapter.parameters().values()) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (std * rng.nextGaussian());
            }
        }
        return adapter;
    }

    private static float[] normal(Random rng, int size, double std) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (std * rng.nextGaussian());
        }
        return a;
    }

    private static float[] around(Random rng, int size, double mean, double std) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (mean + std * rng.nextGaussian());
        }
        return a;
    }
}
