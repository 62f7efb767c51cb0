package org.ssmpeft.runtime.contract;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.LanguageModelConfig;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * Small seeded random Mamba-1 models with inputs, for numeric checks of methods: weights at a trained model's scale
 * (A_log the S4D-real init, dt ≈ softplus(-2.5)), tokens and labels (some ignored).
 */
public final class RandomModels {

    private RandomModels() {
    }

    /**
     * A model and one batch for it.
     *
     * @param name   one line naming the shape, for test names
     * @param tokens (B, T)
     * @param labels (B, T), aligned with the tokens, some {@link SsmModel#IGNORE_INDEX}
     */
    public record ModelCase(String name, MambaWeights weights, int[][] tokens, int[][] labels) {
        public MambaConfig config() {
            return weights.config();
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * A model of either family and one batch for it: what {@link MethodNumericContract} runs on.
     *
     * @param name   one line naming the shape, for test names
     * @param tokens (B, T)
     * @param labels (B, T), aligned with the tokens, some {@link SsmModel#IGNORE_INDEX}
     */
    public record FamilyCase(String name, LanguageModelWeights<?> weights, int[][] tokens, int[][] labels) {
        public static FamilyCase of(ModelCase m) {
            return new FamilyCase(m.name(), m.weights(), m.tokens(), m.labels());
        }

        public LanguageModelConfig config() {
            return weights.config();
        }

        public ModelFamily family() {
            return weights.family();
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * Two Mamba-2 shapes, without a dt clamp (a binding clamp is a kink that finite differences step across): n_groups
     * 2, linear biases, no conv bias, untied head, chunk 3 under T = 7 (vocab 13, d 8, H 4 x P 4, N 3, K 3, 2 layers;
     * B 2); and transformers' defaults, tied head, conv bias, no linear bias, chunk 4 under T = 6 (vocab 11, d 8,
     * H 8 x P 2, G 1, N 4, K 4, 2 layers; B 2).
     */
    public static List<FamilyCase> mamba2Defaults() {
        return List.of(
                mamba2(new Mamba2Config(13, 8, 3, 2, 1e-5, OptionalInt.empty(), OptionalInt.empty(),
                        OptionalInt.empty(), 2, 4, 4, 2, 3, 3, true, false, true, 0.0, Double.POSITIVE_INFINITY, 0.001,
                        0.1, 1e-4, 1, 16, 0.1, false), 21, 2, 7),
                mamba2(new Mamba2Config(11, 8, 4, 2, 1e-5, OptionalInt.empty(), OptionalInt.empty(),
                        OptionalInt.empty(), 2, 8, 2, 1, 4, 4, false, true, true, 0.0, Double.POSITIVE_INFINITY, 0.001,
                        0.1, 1e-4, 1, 16, 0.1, true), 22, 2, 6));
    }

    /** Random Mamba-2 weights for {@code c} ({@link #mamba2Weights}) and a batch of B x T tokens, all from {@code seed}. */
    public static FamilyCase mamba2(Mamba2Config c, long seed, int batch, int len) {
        var rng = new Random(seed);
        Mamba2Weights w = mamba2Weights(c, rng);
        int[][] tokens = new int[batch][len];
        int[][] labels = new int[batch][len];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                tokens[b][t] = rng.nextInt(c.vocabSize());
                labels[b][t] = t == 2 && b == 0 ? SsmModel.IGNORE_INDEX : tokens[b][t];
            }
        }
        String name = ("mamba2 layers %d, d %d, H %d x P %d, G %d, N %d, K %d, chunk %d, V %d, %s head, bias %s, conv"
                + " bias %s; B %d, T %d").formatted(c.layers(), c.dModel(), c.heads(), c.headDim(), c.groups(),
                c.dState(), c.convKernel(), c.chunkSize(), c.vocabSize(), c.tieWordEmbeddings() ? "tied" : "untied",
                c.useBias(), c.useConvBias(), batch, len);
        return new FamilyCase(name, w, tokens, labels);
    }

    /**
     * Two shapes: transformers' defaults (tied head, conv bias, no linear bias; vocab 13, d 8, D 16, N 4, R 1, K 4,
     * 2 layers; B 2, T 6) and the other options (untied head, in/out_proj biases; vocab 11, d 6, D 12, N 3, R 2, K 3,
     * 2 layers; B 2, T 5).
     */
    public static List<ModelCase> defaults() {
        return List.of(
                random(config(13, 8, 4, 2, 16, 1, 4, false, true, true), 11, 2, 6),
                random(config(11, 6, 3, 2, 12, 2, 3, true, true, false), 12, 2, 5));
    }

    /**
     * {@code count} seeded random shapes (layers 1-3, d 4-12, D 4-24, N 1-6, R 1-3, K 2-4, every option; B 1-2,
     * T 4-8). T ≥ 4 so that every base tensor reaches a target: with T ≤ 2 the only target is read from the first
     * state h_0 = dt·B·x, which A does not touch, and dL/dA_log is exactly zero.
     */
    public static List<ModelCase> sweep(int count, long seed) {
        var rng = new Random(seed);
        List<ModelCase> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int d = 4 + rng.nextInt(9);
            MambaConfig c = config(5 + rng.nextInt(20), d, 1 + rng.nextInt(6), 1 + rng.nextInt(3),
                    rng.nextBoolean() ? 2 * d : 4 + rng.nextInt(21), 1 + rng.nextInt(3), 2 + rng.nextInt(3),
                    rng.nextBoolean(), rng.nextInt(4) != 0, rng.nextBoolean());
            out.add(random(c, seed * 1000 + i, 1 + rng.nextInt(2), 4 + rng.nextInt(5)));
        }
        return out;
    }

    /** A Mamba-1 config with these dimensions and options (expand 2 recorded; dInner as given). */
    public static MambaConfig config(int vocab, int dModel, int dState, int layers, int dInner, int dtRank,
                                     int convKernel, boolean useBias, boolean useConvBias, boolean tiedHead) {
        return new MambaConfig(vocab, dModel, dState, layers, 1e-5, OptionalInt.empty(), OptionalInt.empty(),
                OptionalInt.empty(), 2, dInner, convKernel, useBias, useConvBias, "silu", 0.1, true, dtRank, 1.0,
                0.001, 0.1, "random", 1e-4, false, true, tiedHead);
    }

    /** Random weights for {@code c} and a batch of B x T tokens, all from {@code seed}. */
    public static ModelCase random(MambaConfig c, long seed, int batch, int len) {
        var rng = new Random(seed);
        MambaWeights w = weights(c, rng, 0.5);
        int[][] tokens = new int[batch][len];
        int[][] labels = new int[batch][len];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                tokens[b][t] = rng.nextInt(c.vocabSize());
                labels[b][t] = t == 2 && b == 0 ? SsmModel.IGNORE_INDEX : tokens[b][t];
            }
        }
        String name = "layers %d, d %d, D %d, N %d, R %d, K %d, V %d, %s head, bias %s, conv bias %s; B %d, T %d"
                .formatted(c.layers(), c.dModel(), c.dInner(), c.dState(), c.dtRank(), c.convKernel(), c.vocabSize(),
                        c.tieWordEmbeddings() ? "tied" : "untied", c.useBias(), c.useConvBias(), batch, len);
        return new ModelCase(name, w, tokens, labels);
    }

    /** A spec of {@code family} and {@code shape} without weights: for scripted models and refusal checks. */
    public static ModelSpec specOf(ModelFamily family, ModelShape shape) {
        return new ModelSpec() {
            @Override
            public ModelFamily family() {
                return family;
            }

            @Override
            public ModelShape shape() {
                return shape;
            }

            @Override
            public java.util.Map<String, Tensor> parameters() {
                return java.util.Map.of();
            }

            @Override
            public boolean tiedHead() {
                return true;
            }
        };
    }

    /**
     * Overwrites every parameter of {@code adapter} with N(0, std²) values, so zero-initialised ones act too; a
     * magnitude that starts at its base rows' norms ({@code Initializer.BaseRowNorm}) with N(1, std²).
     */
    public static <A extends Adapter> A randomize(A adapter, double std, long seed) {
        var rng = new Random(seed);
        var magnitudes = adapter.parameterSpecs().stream()
                .filter(s -> s.initializer() instanceof org.ssmpeft.api.adapter.Initializer.BaseRowNorm)
                .map(s -> adapter.parameter(s.name())).toList();
        for (Tensor t : adapter.parameters().values()) {
            // a row-norm magnitude (DoRA's m) around 1, the scale of a row of these models' weights: around 0 it
            // would switch its rows off
            float centre = magnitudes.stream().anyMatch(m -> m == t) ? 1f : 0f;
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (centre + std * rng.nextGaussian());
            }
        }
        adapter.refreshDerived();
        return adapter;
    }

    /**
     * Random weights of a plausible Mamba: S4D-real A_log with noise, dt bias around softplus⁻¹(0.08) with
     * {@code dtBiasStd}, norms around 1, linear maps scaled by 1/sqrt(fan-in). The draw order is fixed, so a seed
     * gives the same model everywhere; ssm-runtime's cpu and djl tests build their models here too.
     */
    public static MambaWeights weights(MambaConfig c, Random rng, double dtBiasStd) {
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
                    aLog[d * n + i] = (float) (Math.log(i + 1) + 0.1 * rng.nextGaussian()); // S4D-real init
                }
            }
            float[] dtBias = new float[di];
            for (int d = 0; d < di; d++) {
                dtBias[d] = (float) (-2.5 + dtBiasStd * rng.nextGaussian()); // dt ≈ softplus(-2.5) ≈ 0.08
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

    /**
     * Random Mamba-2 weights at a trained model's scale: A = -(1..16) per head, Δ ≈ softplus(-2.5 ± 1) (across a
     * dt clamp of the fixtures' kind), norms around 1, linear maps scaled by 1/sqrt(fan-in); a fixed draw order.
     */
    public static Mamba2Weights mamba2Weights(Mamba2Config c, Random rng) {
        int dm = c.dModel();
        int di = c.dInner();
        int h = c.heads();
        List<Mamba2LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            float[] aLog = new float[h];
            float[] dtBias = new float[h];
            for (int i = 0; i < h; i++) {
                aLog[i] = (float) Math.log(1 + 15 * rng.nextDouble());
                dtBias[i] = (float) (-2.5 + rng.nextGaussian());
            }
            layers.add(new Mamba2LayerWeights(around(rng, dm, 1, 0.2), normal(rng, c.inProjWidth() * dm,
                    1 / Math.sqrt(dm)), c.useBias() ? Optional.of(normal(rng, c.inProjWidth(), 0.1)) : Optional.empty(),
                    normal(rng, c.convDim() * c.convKernel(), 0.5),
                    c.useConvBias() ? Optional.of(normal(rng, c.convDim(), 0.1)) : Optional.empty(), dtBias, aLog,
                    around(rng, h, 1, 0.2), around(rng, di, 1, 0.2), normal(rng, dm * di, 1 / Math.sqrt(di)),
                    c.useBias() ? Optional.of(normal(rng, dm, 0.1)) : Optional.empty()));
        }
        float[] emb = normal(rng, c.vocabSize() * dm, 1.0);
        float[] head = c.tieWordEmbeddings() ? emb : normal(rng, c.vocabSize() * dm, 1.0);
        return new Mamba2Weights(c, emb, layers, around(rng, dm, 1, 0.2), head);
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
