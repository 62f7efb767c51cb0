package org.ssmpeft.runtime.adapters;

import java.util.List;
import java.util.Random;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/** The mamba-tiny fixture and adapters of every built-in method on it, with random (non-identity) values. */
final class TinyAdapters {

    static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private TinyAdapters() {
    }

    static MambaWeights weights() {
        try {
            return MambaCheckpoint.load(Fixtures.mambaTiny());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static ModelShape shape() {
        return ModelShape.requirePreset("mamba-tiny");
    }

    static Adapter adapter(String name, String method, LayerSelection layers, Record config, long seed) {
        return adapter(name, method, layers, config, seed, shape());
    }

    static Adapter adapter(String name, String method, LayerSelection layers, Record config, long seed,
                           ModelShape shape) {
        Adapter a = FACTORY.create(new AdapterConfig(name, method, layers, config), shape,
                AdapterFactory.seeded(seed));
        var rng = new Random(seed);
        for (Tensor t : a.parameters().values()) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (0.05 * rng.nextGaussian());
            }
        }
        a.refreshDerived();
        return a;
    }

    static LoraConfig lora(Projection... targets) {
        return new LoraConfig(4, 8.0, 0.0, List.of(targets), false);
    }

    static Adapter stateOffsetH(String name, long seed) {
        return adapter(name, "state-offset", LayerSelection.ALL,
                new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), seed);
    }

    static Adapter stateOffsetY(String name, long seed) {
        return adapter(name, "state-offset", LayerSelection.ALL,
                new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO), seed);
    }

    static Adapter initialState(String name, long seed) {
        return adapter(name, "initial-state", LayerSelection.ALL, new InitialStateConfig(StateInit.ZERO), seed);
    }

    static Adapter additionalScan(String name, long seed) {
        return adapter(name, "additional-scan", LayerSelection.ALL, new AdditionalScanConfig(4,
                AdditionalScanConfig.AInit.LOG_RANGE), seed);
    }

    static Adapter prompt(String name, long seed) {
        return adapter(name, "prompt", LayerSelection.ALL, new PromptConfig(3, 0.02), seed);
    }

    static Adapter prefix(String name, boolean mlp, long seed) {
        return adapter(name, "prefix", LayerSelection.ALL, new PrefixConfig(2, mlp, 8, 0.02), seed);
    }

    /** LoRA on whole projections (PEFT's layout): in_proj, x_proj, dt_proj, out_proj. */
    static Adapter loraWhole(String name, long seed) {
        return adapter(name, "lora", LayerSelection.ALL, lora(Projection.IN_PROJ, Projection.X_PROJ,
                Projection.DT_PROJ, Projection.OUT_PROJ), seed);
    }

    /** LoRA on row blocks and the head, on layer 1 only. */
    static Adapter loraBlocks(String name, long seed) {
        return adapter(name, "lora", new LayerSelection.Some(java.util.BitSet.valueOf(new long[] {0b10})), new LoraConfig(2, 4.0, 0.0, List.of(
                Projection.IN_PROJ_Z, Projection.X_PROJ_DT, Projection.X_PROJ_C, Projection.HEAD), true), seed);
    }

    static int[][] tokens(long seed) {
        var rng = new Random(seed);
        int[][] t = new int[2][11];
        for (int[] row : t) {
            for (int i = 0; i < row.length; i++) {
                row[i] = rng.nextInt(256);
            }
        }
        return t;
    }
}
