package com.example.lowrank;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * A small seeded random Mamba-1 (vocab 13, d_model 8, D 16, N 4, R 1, 2 layers, tied head) and inputs, built here so
 * the plugin's tests read no other module's files.
 */
final class TinyMamba {

    static final MambaConfig CONFIG = MambaConfig.of(13, 8, 4, 2);
    static final MambaWeights WEIGHTS = weights(CONFIG, 11);
    static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private TinyMamba() {
    }

    static MambaWeights weights(MambaConfig c, long seed) {
        var rng = new Random(seed);
        int dm = c.dModel();
        int di = c.dInner();
        int n = c.dState();
        int r = c.dtRank();
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            float[] aLog = new float[di * n];
            for (int d = 0; d < di; d++) {
                for (int i = 0; i < n; i++) {
                    aLog[d * n + i] = (float) (Math.log(i + 1) + 0.1 * rng.nextGaussian()); // S4D-real A = -(i+1)
                }
            }
            float[] dtBias = normal(rng, di, 0.5, -2.5); // dt ≈ softplus(-2.5) ≈ 0.08
            layers.add(new LayerWeights(normal(rng, dm, 0.2, 1), normal(rng, 2 * di * dm, 1 / Math.sqrt(dm), 0),
                    Optional.empty(), normal(rng, di * c.convKernel(), 0.5, 0),
                    Optional.of(normal(rng, di, 0.1, 0)), normal(rng, (r + 2 * n) * di, 1 / Math.sqrt(di), 0),
                    normal(rng, di * r, 1 / Math.sqrt(r), 0), dtBias, aLog, normal(rng, di, 0.2, 1),
                    normal(rng, dm * di, 1 / Math.sqrt(di), 0), Optional.empty()));
        }
        float[] embedding = normal(rng, c.vocabSize() * dm, 1, 0);
        return new MambaWeights(c, embedding, layers, normal(rng, dm, 0.2, 1), embedding);
    }

    /** (batch, len) tokens, uniform over the vocabulary. */
    static int[][] tokens(int batch, int len, long seed) {
        var rng = new Random(seed);
        int[][] t = new int[batch][len];
        for (int[] row : t) {
            for (int i = 0; i < len; i++) {
                row[i] = rng.nextInt(CONFIG.vocabSize());
            }
        }
        return t;
    }

    /** An adapter of {@code method} on every layer, initialised from {@code seed}. */
    static Adapter adapter(String name, String method, Record config, long seed) {
        return FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), CONFIG.toShape(),
                AdapterFactory.seeded(seed));
    }

    /** Every element of {@code t} drawn from N(0, std²). */
    static void randomize(Tensor t, double std, long seed) {
        var rng = new Random(seed);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (std * rng.nextGaussian());
        }
    }

    private static float[] normal(Random rng, int size, double std, double mean) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (mean + std * rng.nextGaussian());
        }
        return a;
    }
}
