package org.ssmpeft.runtime.cpu;

import java.util.Random;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;

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
        return RandomModels.weights(c, new Random(seed), 0.5);
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


}
