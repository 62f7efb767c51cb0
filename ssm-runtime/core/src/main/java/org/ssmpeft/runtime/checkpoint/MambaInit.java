package org.ssmpeft.runtime.checkpoint;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.ssmpeft.runtime.io.HeapRoom;

/**
 * A freshly initialised Mamba-1 language model, as {@code mamba_ssm} initialises one for pre-training
 * ({@code mamba_ssm/modules/mamba_simple.py} {@code Mamba.__init__} and {@code models/mixer_seq_simple.py}
 * {@code _init_weights}; transformers' {@code MambaPreTrainedModel._init_weights} follows the same formulas for the
 * SSM parameters). Deterministic given the seed: every tensor draws from its own stream split off one
 * {@link SplittableRandom}, in checkpoint order.
 *
 * <p>Symbols: d = d_model, D = d_inner, N = d_state, R = dt_rank, K = conv_kernel, L = layers.
 */
public final class MambaInit {

    /** mamba_ssm's {@code initializer_range} for the embedding: {@code nn.init.normal_(weight, std=0.02)}. */
    public static final double EMBEDDING_STD = 0.02;

    private MambaInit() {
    }

    /** Random weights for {@code config} drawn from {@code seed}. */
    public static MambaWeights initialise(MambaConfig config, long seed) {
        HeapRoom.require(HeapRoom.floats(config.parameterCount()), "a Mamba model of " + config.layers()
                + " layers, d_model " + config.dModel() + ", d_inner " + config.dInner() + " and vocabulary "
                + config.vocabSize() + " (" + config.parameterCount() + " parameters)");
        SplittableRandom root = new SplittableRandom(seed);
        int d = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int k = config.convKernel();
        // Embedding: N(0, 0.02^2) (mamba_ssm _init_weights: nn.init.normal_(module.weight, std=initializer_range)).
        float[] embedding = normal(root.split(), (long) config.vocabSize() * d, EMBEDDING_STD);
        List<LayerWeights> layers = new ArrayList<>();
        for (int layer = 0; layer < config.layers(); layer++) {
            SplittableRandom rng = root.split();
            // RMSNorm weight: ones (nn.Parameter(torch.ones(d))).
            float[] norm = filled(d, 1f);
            // in_proj (2D, d): nn.Linear's default init, kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in),
            // 1/sqrt(fan_in)) with fan_in = d; bias (if any) zero (mamba_ssm zeroes Linear biases).
            float[] inProj = uniform(rng.split(), 2L * di * d, 1 / Math.sqrt(d));
            Optional<float[]> inProjBias = config.useBias() ? Optional.of(new float[2 * di]) : Optional.empty();
            // conv1d (D, 1, K), groups = D: nn.Conv1d's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
            // fan_in = in_channels / groups * K = K, for weight and bias alike.
            double convBound = 1 / Math.sqrt(k);
            float[] conv = uniform(rng.split(), (long) di * k, convBound);
            Optional<float[]> convBias = config.useConvBias() ? Optional.of(uniform(rng.split(), di, convBound))
                    : Optional.empty();
            // x_proj (R + 2N, D): nn.Linear default, U(-1/sqrt(D), 1/sqrt(D)); no bias.
            float[] xProj = uniform(rng.split(), (long) (r + 2 * n) * di, 1 / Math.sqrt(di));
            // dt_proj.weight (D, R): dt_init_std = R^-0.5 * dt_scale; "random": U(-std, std), "constant": std.
            double dtStd = Math.pow(r, -0.5) * config.timeStepScale();
            float[] dtProj = config.timeStepInitScheme().equals("constant") ? filled(di * r, (float) dtStd)
                    : uniform(rng.split(), (long) di * r, dtStd);
            // dt_proj.bias (D): dt = exp(U(0,1) * (ln dt_max - ln dt_min) + ln dt_min), i.e. log-uniform in
            // [dt_min, dt_max] = [0.001, 0.1] by default, clamped below at dt_init_floor (1e-4); the bias is the
            // inverse of softplus at dt, dt + log(-expm1(-dt)), so that softplus(bias) = dt at initialisation.
            float[] dtBias = new float[di];
            SplittableRandom dtRng = rng.split();
            double lo = Math.log(config.timeStepMin());
            double hi = Math.log(config.timeStepMax());
            for (int c = 0; c < di; c++) {
                double dt = Math.max(Math.exp(dtRng.nextDouble() * (hi - lo) + lo), config.timeStepFloor());
                dtBias[c] = (float) (dt + Math.log(-Math.expm1(-dt)));
            }
            // A_log (D, N): A = -(1, 2, ..., N) for every channel (S4D-Real), stored as A_log = log(1..N).
            float[] aLog = new float[di * n];
            for (int c = 0; c < di; c++) {
                for (int s = 0; s < n; s++) {
                    aLog[c * n + s] = (float) Math.log(s + 1);
                }
            }
            // D (skip) = 1 per channel.
            float[] skip = filled(di, 1f);
            // out_proj (d, D): nn.Linear default U(-1/sqrt(D), 1/sqrt(D)); with rescale_prenorm_residual,
            // mamba_ssm's _init_weights redraws it as kaiming_uniform_(a=sqrt(5)) (the same bound) and divides by
            // sqrt(n_residuals_per_layer * n_layer) = sqrt(L) for Mamba-1 (one residual per block).
            double outBound = 1 / Math.sqrt(di);
            if (config.rescalePrenormResidual()) {
                outBound /= Math.sqrt(config.layers());
            }
            float[] outProj = uniform(rng.split(), (long) d * di, outBound);
            Optional<float[]> outProjBias = config.useBias() ? Optional.of(new float[d]) : Optional.empty();
            layers.add(new LayerWeights(norm, inProj, inProjBias, conv, convBias, xProj, dtProj, dtBias, aLog, skip,
                    outProj, outProjBias));
        }
        // Final RMSNorm: ones. A tied head is the embedding itself; an untied one gets nn.Linear's default init.
        float[] normF = filled(d, 1f);
        float[] head = config.tieWordEmbeddings() ? embedding
                : uniform(root.split(), (long) config.vocabSize() * d, 1 / Math.sqrt(d));
        return new MambaWeights(config, embedding, layers, normF, head);
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private static float[] uniform(SplittableRandom rng, long n, double bound) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return a;
    }

    private static float[] normal(SplittableRandom rng, long n, double std) {
        float[] a = new float[Math.toIntExact(n)];
        java.util.Random g = new java.util.Random(rng.nextLong());
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (g.nextGaussian() * std);
        }
        return a;
    }
}
