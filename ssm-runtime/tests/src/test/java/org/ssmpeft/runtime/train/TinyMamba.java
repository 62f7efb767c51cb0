package org.ssmpeft.runtime.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.SplittableRandom;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * A tiny random Mamba-1 (vocab 24, d_model 16, N 4, 2 layers), adapters and data for trainer and generator tests,
 * all seeded: every JVM that calls these builds the same numbers (the kill-and-resume test relies on it).
 */
public final class TinyMamba {

    public static final MambaConfig CONFIG = MambaConfig.of(24, 16, 4, 2);
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private TinyMamba() {
    }

    /** Random weights: the same for the same seed. */
    public static MambaWeights weights(long seed) {
        MambaConfig c = CONFIG;
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
                dtBias[d] = (float) (-2.5 + 0.5 * rng.nextGaussian());
            }
            layers.add(new LayerWeights(around(rng, dm), normal(rng, 2 * di * dm, 1 / Math.sqrt(dm)),
                    Optional.empty(), normal(rng, di * k, 0.5), Optional.of(normal(rng, di, 0.1)),
                    normal(rng, (r + 2 * n) * di, 1 / Math.sqrt(di)), normal(rng, di * r, 1 / Math.sqrt(r)), dtBias,
                    aLog, around(rng, di), normal(rng, dm * di, 1 / Math.sqrt(di)), Optional.empty()));
        }
        float[] emb = normal(rng, c.vocabSize() * dm, 1.0);
        return new MambaWeights(c, emb, layers, around(rng, dm), emb);
    }

    public static CpuMamba model(long seed) {
        return new CpuMamba(weights(seed));
    }

    /**
     * State-offset (h), zero-initialised and not decayed, plus LoRA on in_proj.z and out_proj (decayed), seeded; the
     * LoRA B matrices are set to small random values so that every parameter has a gradient from the first step.
     */
    public static AdapterSet adapters(long seed) {
        var set = new AdapterSet(CONFIG.toShape());
        set.add(create("offset", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO),
                seed));
        Adapter lora = create("lora", "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z,
                Projection.OUT_PROJ), false), seed + 1);
        var rng = new Random(seed + 2);
        lora.parameters().forEach((name, t) -> {
            if (name.contains("lora_B")) {
                float[] d = t.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) (0.05 * rng.nextGaussian());
                }
            }
        });
        return set.add(lora);
    }

    /** A prompt-tuning adapter (virtual tokens act on a fresh cache only), randomised. */
    public static AdapterSet promptAdapter(long seed) {
        return new AdapterSet(CONFIG.toShape()).add(create("prompt", "prompt", new PromptConfig(3, 0.5), seed));
    }

    public static Adapter create(String name, String method, Record config, long seed) {
        return FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), CONFIG.toShape(),
                AdapterFactory.seeded(seed));
    }

    /**
     * 12 sequences of 10 tokens, 2 per batch, reshuffled every epoch from (seed, epoch); the first 3 labels of each
     * row are ignored (a prompt), so rows have different target counts only through the batch shape (all equal).
     */
    public static BatchSource data() {
        int[][] pool = new int[12][10];
        var rng = new SplittableRandom(7);
        for (int[] row : pool) {
            for (int i = 0; i < row.length; i++) {
                row[i] = rng.nextInt(CONFIG.vocabSize());
            }
        }
        return new BatchSource() {
            @Override
            public int batchesPerEpoch() {
                return pool.length / 2;
            }

            @Override
            public Batch batch(long seed, int epoch, int position) {
                int[] order = org.ssmpeft.runtime.data.ShuffleOrder.permutation(pool.length, seed, epoch);
                int[][] tokens = {pool[order[2 * position]], pool[order[2 * position + 1]]};
                int[][] labels = new int[2][];
                for (int b = 0; b < 2; b++) {
                    labels[b] = tokens[b].clone();
                    java.util.Arrays.fill(labels[b], 0, 3, -100);
                }
                return new Batch(tokens, labels);
            }
        };
    }

    /** The options the reproducibility tests share: warm-up + cosine, decay, clipping, accumulation. */
    public static TrainingOptions.Builder options(int maxSteps) {
        return TrainingOptions.builder(maxSteps, 0.02).weightDecay(0.01)
                .schedule(LearningRateSchedule.Kind.COSINE, 2).maxGradNorm(0.5).accumulationSteps(2).seed(11);
    }

    /** Every trainable tensor's bits, by key. */
    public static java.util.Map<String, int[]> bits(List<TrainableParameter> parameters) {
        var out = new java.util.LinkedHashMap<String, int[]>();
        for (TrainableParameter p : parameters) {
            out.put(p.key(), bits(p.value()));
        }
        return out;
    }

    public static int[] bits(Tensor t) {
        float[] d = t.data();
        int[] b = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            b[i] = Float.floatToRawIntBits(d[i]);
        }
        return b;
    }

    private static float[] normal(Random rng, int size, double std) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (std * rng.nextGaussian());
        }
        return a;
    }

    private static float[] around(Random rng, int size) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (1 + 0.2 * rng.nextGaussian());
        }
        return a;
    }
}
