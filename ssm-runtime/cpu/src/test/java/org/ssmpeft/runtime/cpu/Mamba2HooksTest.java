package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.contract.RandomModels;

/**
 * Every built-in method that maps onto Mamba-2 on a random Mamba-2 model (n_groups 2, biases, untied head, chunk 3
 * with 7 tokens, a finite dt clamp that does not bind), additional-scan mapped per head among them: gradients against directional finite differences, decoding one
 * token at a time equal to the forward, and a sequence fed in two calls equal to one. A binding clamp is a kink that
 * finite differences step across (bitfit's dt_bias then differs by 2e-2 along a random direction); its gradient is
 * checked against PyTorch's instead, on the mamba2-dtclamp fixture.
 */
class Mamba2HooksTest {

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());
    /** Central differences along g/|g| and random directions; error relative to |g||v| (MethodNumericContract's). */
    private static final double FD_REL = 5e-3;

    private static final Mamba2Weights WEIGHTS = random(new Mamba2Config(17, 8, 3, 2, 1e-5, OptionalInt.empty(),
            OptionalInt.empty(), OptionalInt.empty(), 2, 4, 4, 2, 3, 3, true, true, true, 0.0, 10.0, 0.001, 0.1,
            1e-4, 1, 16, 0.1, false), 5);
    private static final CpuMamba2 MODEL = new CpuMamba2(WEIGHTS);
    private static final int[][] TOKENS = {{1, 5, 9, 2, 16, 3, 7}, {4, 4, 0, 11, 8, 13, 6}};

    static Stream<String> configs() {
        return Stream.of(
                "method: prompt\nnum_virtual_tokens: 2\n",
                "method: prefix\nnum_virtual_tokens: 2\n",
                "method: prefix\nnum_virtual_tokens: 2\nreparameterize: true\nencoder_hidden_size: 3\n",
                "method: initial-state\n",
                "method: state-offset\nvariant: h\n",
                "method: state-offset\nvariant: y\n",
                "method: additional-scan\nn_extra: 2\na_init: log-range\n",
                "method: lora\nrank: 2\ntargets: [in_proj, out_proj, head]\n",
                "method: lora\nrank: 2\ntargets: [in_proj.z, in_proj.x, in_proj.B, in_proj.C, in_proj.dt]\n",
                "method: bitfit\nbiases: [conv1d.bias, dt_proj.bias, D, in_proj.bias, out_proj.bias]\n",
                "method: full-ft\ntied_head: false\n",
                "method: partial-ft\n",
                "method: partial-ft\nlayer_parameters: [A_log, D, dt_bias]\n",
                "method: partial-ft\nlayer_parameters: [norm.weight, in_proj.weight, conv1d.weight, mixer.norm.weight,"
                        + " out_proj.bias]\nmodel_parameters: [lm_head.weight]\n");
    }

    private static Adapter adapter(String yaml, long seed) {
        AdapterConfig parsed = FACTORY.reader().parse(yaml, ConfigFormat.YAML).getFirst();
        Adapter a = FACTORY.create(new AdapterConfig("a", parsed.method(), parsed.layers(), parsed.config()),
                WEIGHTS.shape(), AdapterFactory.seeded(seed));
        return RandomModels.randomize(a, 0.1, seed);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void gradientsMatchFiniteDifferences(String yaml) {
        Adapter a = adapter(yaml, 3);
        AdapterSet set = new AdapterSet(WEIGHTS.shape()).add(a);
        int[][] labels = {TOKENS[0].clone(), TOKENS[1].clone()};
        labels[0][2] = SsmModel.IGNORE_INDEX;
        LossAndGradients g = MODEL.lossAndGradients(TOKENS, labels, set, Set.of());
        Map<String, Tensor> analytic = g.adapterGradients().get("a");
        analytic.forEach((n, t) -> {
            double max = 0;
            for (float v : t.data()) {
                max = Math.max(max, Math.abs(v));
            }
            assertThat(max).as("dL/d%s is not all zero", n).isGreaterThan(0);
        });
        GradientCheck.DirectionalResult r = GradientCheck.of(() -> MODEL.loss(TOKENS, labels, set))
                .randomDirections(2, 2, 7).lossNoise(GradientCheck.DEFAULT_LOSS_NOISE)
                .checkDirections(a.parameters(), analytic);
        assertThat(r.failures(FD_REL)).as("%s%n%s", yaml, r).isEmpty();
        assertThat(r.checks()).isNotEmpty();
    }

    /**
     * The check above can fail: partial-ft's A_log, D and dt_bias gradients, each in turn scaled by 1.05 or negated,
     * are reported (by the per-tensor check along that tensor's gradient at least).
     */
    @Test
    void aWrongPartialFineTuningGradientFailsTheCheck() {
        Adapter a = adapter("method: partial-ft\nlayer_parameters: [A_log, D, dt_bias]\n", 3);
        AdapterSet set = new AdapterSet(WEIGHTS.shape()).add(a);
        int[][] labels = {TOKENS[0].clone(), TOKENS[1].clone()};
        Map<String, Tensor> analytic = MODEL.lossAndGradients(TOKENS, labels, set, Set.of()).adapterGradients()
                .get("a");
        for (String wrong : List.of("backbone.layers.1.mixer.A_log", "backbone.layers.0.mixer.D",
                "backbone.layers.1.mixer.dt_bias")) {
            for (float factor : new float[] {1.05f, -1f}) {
                Map<String, Tensor> mutated = new java.util.LinkedHashMap<>();
                analytic.forEach((n, t) -> {
                    float[] v = t.data().clone();
                    if (n.equals(wrong)) {
                        for (int i = 0; i < v.length; i++) {
                            v[i] *= factor;
                        }
                    }
                    mutated.put(n, Tensor.of(v, t.shape()));
                });
                GradientCheck.DirectionalResult r = GradientCheck.of(() -> MODEL.loss(TOKENS, labels, set))
                        .randomDirections(0, 0, 7).lossNoise(GradientCheck.DEFAULT_LOSS_NOISE)
                        .checkDirections(a.parameters(), mutated);
                assertThat(r.failures(FD_REL)).as("%s scaled by %s%n%s", wrong, factor, r).isNotEmpty();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void decodingEqualsTheForwardAndPrefillsCompose(String yaml) {
        AdapterSet set = new AdapterSet(WEIGHTS.shape()).add(adapter(yaml, 4));
        float[] whole = MODEL.forward(TOKENS, set).values();
        int v = WEIGHTS.config().vocabSize();
        int p = whole.length / (2 * v) - TOKENS[0].length;
        HostState byToken = MODEL.newState(2);
        HostState inTwo = MODEL.newState(2);
        List<float[]> parts = new ArrayList<>();
        parts.add(MODEL.forward(cut(0, 4), set, inTwo).values());
        parts.add(MODEL.forward(cut(4, 7), set, inTwo).values());
        for (int t = 0; t < TOKENS[0].length; t++) {
            float[] step = MODEL.step(new int[] {TOKENS[0][t], TOKENS[1][t]}, set, byToken);
            for (int b = 0; b < 2; b++) {
                for (int k = 0; k < v; k++) {
                    float expected = whole[(b * (p + TOKENS[0].length) + p + t) * v + k];
                    assertThat(step[b * v + k]).as("step %d row %d", t, b).isCloseTo(expected,
                            org.assertj.core.data.Offset.offset(2e-5f));
                }
            }
        }
        assertThat(byToken.export().ssmState(1)).containsExactly(inTwo.export().ssmState(1),
                org.assertj.core.data.Offset.offset(2e-6f));
        assertThat(parts.get(1).length).isEqualTo(2 * 3 * v);
    }

    /**
     * LoRA on in_proj's z, x, B, C and dt blocks acts as the dense model whose in_proj rows [offset, offset + out) got
     * s·B·A added (merged here by the test, in double, at the rows of transformers' split [z, x, B, C, dt], not at the
     * offsets the adapter reports): logits within 2e-5 · max(1, max |logit|).
     */
    @Test
    void loraOnTheInProjBlocksEqualsTheDenseModelWithTheDeltaMergedIn() {
        Adapter a = adapter("method: lora\nrank: 2\nalpha: 3\ntargets: [in_proj.z, in_proj.x, in_proj.B, in_proj.C,"
                + " in_proj.dt, out_proj]\n", 8);
        var hook = (org.ssmpeft.api.hooks.ProjectionHook) a;
        int dm = WEIGHTS.config().dModel();
        int di = WEIGHTS.config().dInner();
        int gn = WEIGHTS.config().groups() * WEIGHTS.config().dState();
        Map<org.ssmpeft.api.hooks.Projection, Integer> firstRow = Map.of(org.ssmpeft.api.hooks.Projection.IN_PROJ_Z, 0,
                org.ssmpeft.api.hooks.Projection.IN_PROJ_X, di, org.ssmpeft.api.hooks.Projection.IN_PROJ_B, 2 * di,
                org.ssmpeft.api.hooks.Projection.IN_PROJ_C, 2 * di + gn,
                org.ssmpeft.api.hooks.Projection.IN_PROJ_DT, 2 * di + 2 * gn,
                org.ssmpeft.api.hooks.Projection.OUT_PROJ, 0);
        Mamba2Weights merged = WEIGHTS.with((name, w) -> {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("backbone\\.layers\\.(\\d+)\\.mixer\\."
                    + "(in_proj|out_proj)\\.weight").matcher(name);
            if (!m.matches()) {
                return w;
            }
            int layer = Integer.parseInt(m.group(1));
            int columns = m.group(2).equals("in_proj") ? dm : di;
            float[] out = w.clone();
            for (var p : org.ssmpeft.api.hooks.Projection.values()) {
                if (!p.isPerLayer() || !p.module().equals(m.group(2))) {
                    continue;
                }
                hook.delta(layer, p).ifPresent(d -> {
                    int r = d.rank();
                    float[] b = d.b().data();
                    float[] aa = d.a().data();
                    for (int o = 0; o < d.b().dim(0); o++) {
                        for (int i = 0; i < columns; i++) {
                            double sum = 0;
                            for (int k = 0; k < r; k++) {
                                sum += (double) b[o * r + k] * aa[k * columns + i];
                            }
                            out[(firstRow.get(p) + o) * columns + i] += (float) (d.scaling() * sum);
                        }
                    }
                });
            }
            return out;
        });
        float[] adapted = MODEL.forward(TOKENS, new AdapterSet(WEIGHTS.shape()).add(a)).values();
        float[] dense = new CpuMamba2(merged).forward(TOKENS, new AdapterSet(WEIGHTS.shape())).values();
        float[] base = MODEL.forward(TOKENS, new AdapterSet(WEIGHTS.shape())).values();
        double scale = 1;
        double err = 0;
        double moved = 0;
        for (int i = 0; i < dense.length; i++) {
            scale = Math.max(scale, Math.abs(dense[i]));
            err = Math.max(err, Math.abs(adapted[i] - dense[i]));
            moved = Math.max(moved, Math.abs(base[i] - dense[i]));
        }
        assertThat(moved).as("the delta changes the logits").isGreaterThan(1e-3);
        assertThat(err).as("adapted against dense, max |logit| %.3e", scale).isLessThanOrEqualTo(2e-5 * scale);
    }


    private static int[][] cut(int from, int to) {
        int[][] out = new int[2][];
        for (int b = 0; b < 2; b++) {
            out[b] = java.util.Arrays.copyOfRange(TOKENS[b], from, to);
        }
        return out;
    }

    /** Random Mamba-2 weights at a trained model's scale ({@link RandomModels#mamba2Weights}). */
    static Mamba2Weights random(Mamba2Config c, long seed) {
        return RandomModels.mamba2Weights(c, new Random(seed));
    }
}
