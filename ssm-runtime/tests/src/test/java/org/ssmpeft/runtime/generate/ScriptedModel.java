package org.ssmpeft.runtime.generate;

import java.util.List;
import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.HostStateModel;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.api.shape.ModelFamily;

/**
 * A Markov "language model" with a known next-token table: the next-token distribution depends on the last token
 * only, which it keeps in the cache (first conv-state value of the row), so beam search must reorder the cache
 * rows for the right distributions to follow. Vocabulary: 0 = EOS, 1..5.
 *
 * <pre>
 * after 5: 1: 0.5   2: 0.4   0, 3, 4, 5: 0.025
 * after 1: 1: 0.2   2, 3, 4: 0.19   5: 0.18   0: 0.05
 * after 2: 3: 0.9   others: 0.02
 * after 3: 0: 0.6   4: 0.3   1, 2, 3, 5: 0.025
 * after 4: 0: 0.9   others: 0.02
 * after 0: uniform
 * </pre>
 */
final class ScriptedModel implements HostStateModel {

    static final int EOS = 0;
    static final MambaConfig CONFIG = MambaConfig.of(6, 4, 2, 1);
    private static final double[][] P = {
        {1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0},
        {0.05, 0.2, 0.19, 0.19, 0.19, 0.18},
        {0.02, 0.02, 0.02, 0.9, 0.02, 0.02},
        {0.6, 0.025, 0.025, 0.025, 0.3, 0.025},
        {0.9, 0.02, 0.02, 0.02, 0.02, 0.02},
        {0.025, 0.5, 0.4, 0.025, 0.025, 0.025},
    };

    int forwardCalls;
    int stepCalls;

    static double logP(int after, int token) {
        return Math.log(P[after][token]);
    }

    private static float[] logits(int last) {
        float[] l = new float[P.length];
        for (int v = 0; v < l.length; v++) {
            l[v] = (float) Math.log(P[last][v]);
        }
        return l;
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        HostState cache = (HostState) state;
        forwardCalls++;
        int len = tokens[0].length;
        float[] out = new float[tokens.length * len * P.length];
        for (int b = 0; b < tokens.length; b++) {
            for (int t = 0; t < len; t++) {
                System.arraycopy(logits(tokens[b][t]), 0, out, (b * len + t) * P.length, P.length);
            }
            remember(cache, b, tokens[b][len - 1]);
        }
        return new Logits(out, tokens.length, len, P.length, 0);
    }

    @Override
    public float[] step(int[] tokens, AdapterSet adapters, SsmState state) {
        HostState cache = (HostState) state;
        stepCalls++;
        float[] out = new float[tokens.length * P.length];
        for (int b = 0; b < tokens.length; b++) {
            int previous = (int) cache.convState(0)[b * row(cache)];
            if (previous < 0) {
                throw new IllegalStateException("row " + b + " has no history");
            }
            System.arraycopy(logits(tokens[b]), 0, out, b * P.length, P.length);
            remember(cache, b, tokens[b]);
        }
        return out;
    }

    private static int row(HostState cache) {
        return cache.convState(0).length / cache.batch();
    }

    private static void remember(HostState cache, int b, int token) {
        cache.convState(0)[b * row(cache)] = token;
    }

    @Override
    public String backend() {
        return "scripted";
    }

    @Override
    public ModelSpec spec() {
        return RandomModels.specOf(ModelFamily.MAMBA, CONFIG.toShape());
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        throw new UnsupportedOperationException();
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        throw new UnsupportedOperationException();
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters, Set<String> names) {
        throw new UnsupportedOperationException();
    }
}
