package org.ssmpeft.runtime.djl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/** The mamba-tiny fixture as the DJL tests use it, and the engine assumption every DJL test starts with. */
final class DjlFixture {

    /** Logits, states, loss: absolute (the fixture README expects a float32 re-implementation within about 1e-5). */
    static final double ABS_TOL = 1e-4;
    /** Gradients: max |error| / max |expected| per tensor. */
    static final double GRAD_REL_TOL = 1e-3;

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private DjlFixture() {
    }

    /** Skips (never fails) the calling test when DJL's PyTorch engine cannot load here. */
    static void assumeEngine() {
        assumeTrue(DjlEngine.isAvailable(), () -> DjlEngine.unavailableReason().orElse("engine unavailable"));
    }

    static Path dir() {
        return Fixtures.mambaTiny();
    }

    static MambaWeights weights() throws Exception {
        return MambaCheckpoint.load(dir());
    }

    static SafetensorsFile open(String file) throws Exception {
        return SafetensorsFile.open(dir().resolve(file));
    }

    /** input_ids of reference.safetensors: (2, 24). */
    static int[][] tokens() throws Exception {
        try (SafetensorsFile ref = open("reference.safetensors")) {
            long[] ids = ref.readLongs("input_ids");
            long[] shape = ref.info("input_ids").shape();
            int[][] tokens = new int[(int) shape[0]][(int) shape[1]];
            for (int b = 0; b < tokens.length; b++) {
                for (int t = 0; t < tokens[b].length; t++) {
                    tokens[b][t] = Math.toIntExact(ids[b * tokens[b].length + t]);
                }
            }
            return tokens;
        }
    }

    /** max |a - e| / max |e|. */
    static double relativeError(float[] actual, float[] expected) {
        double scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        return Fixtures.maxAbsDiff(actual, expected) / scale;
    }

    /** One adapter made by the installed provider of {@code method}, on all layers, in a set of its own. */
    static AdapterSet single(MambaWeights w, String name, String method, Record config) {
        AdapterSet set = new AdapterSet(w.config().toShape());
        set.add(adapter(w, name, method, config));
        return set;
    }

    static Adapter adapter(MambaWeights w, String name, String method, Record config) {
        return FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), w.config().toShape(),
                AdapterFactory.seeded(7));
    }
}
