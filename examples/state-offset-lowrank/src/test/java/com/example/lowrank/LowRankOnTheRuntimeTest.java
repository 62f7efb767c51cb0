package com.example.lowrank;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The plugin computed by the real runtime (on the tiny random model of {@link TinyMamba}), on every backend that runs
 * here: identity at the start, the chain rule against finite differences, agreement with the built-in
 * {@code state-offset} holding the same h', and a save/load round trip.
 */
class LowRankOnTheRuntimeTest {

    private static final String NAME = LowRankStateOffsetProvider.NAME;
    private static final ModelShape SHAPE = TinyMamba.CONFIG.toShape();
    private static final int[][] TOKENS = TinyMamba.tokens(2, 7, 5);
    private static final int[][] LABELS = labels();
    private static final LowRankStateOffsetConfig RANK_2 = new LowRankStateOffsetConfig(2);

    private static int[][] labels() {
        int[][] l = new int[TOKENS.length][];
        for (int b = 0; b < l.length; b++) {
            l[b] = TOKENS[b].clone();
        }
        l[0][2] = SsmModel.IGNORE_INDEX;
        l[1][6] = SsmModel.IGNORE_INDEX;
        return l;
    }

    private static AdapterSet only(Adapter a) {
        return new AdapterSet(SHAPE).add(a);
    }

    private static String u(int layer) {
        return "layers." + layer + "." + LowRankStateOffsetProvider.U;
    }

    private static String v(int layer) {
        return "layers." + layer + "." + LowRankStateOffsetProvider.V;
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "djl"})
    void theDefaultStartLeavesTheLogitsUnchangedBitForBit(String backend) throws Exception {
        try (Backend m = Backend.open(backend)) {
            Adapter a = TinyMamba.adapter("lowrank", NAME, LowRankStateOffsetConfig.DEFAULT, 3);
            assertThat(a.parameter(v(0)).isZero()).as("V is random, U zero").isFalse();
            float[] base = m.model().forward(TOKENS, m.model().noAdapters()).values();
            assertThat(m.model().forward(TOKENS, only(a)).values()).isEqualTo(base);
        }
    }

    /**
     * Analytic gradients of U and V (random, so both carry gradient) against directional central differences of the
     * loss ({@link GradientCheck#checkDirections}): over all factors jointly and over each factor tensor, along g/|g|
     * and two Gaussian directions, |FD − ⟨g, v⟩| ≤ 5e-3 · |g||v| + the float32 noise floor (1.4e-3 |g||v| here). The
     * runtime's own hook checks and the numeric contract use the same bound: the checks err by a few 1e-4 |g||v|,
     * while a factor's gradient that is 5% off reads 5e-2 along its g/|g|, a sign flip 2. To show that this is a proof
     * of the chain rule and not a formality, the same check is run on U's gradients scaled by 0.95 and must fail.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cpu", "djl"})
    void gradientsOfTheFactorsPassAFiniteDifferenceCheck(String backend) throws Exception {
        try (Backend m = Backend.open(backend)) {
            Adapter a = TinyMamba.adapter("lowrank", NAME, RANK_2, 4);
            long seed = 40;
            for (Tensor t : a.parameters().values()) {
                TinyMamba.randomize(t, 0.5, seed++);
            }
            AdapterSet set = only(a);
            var analytic = m.model().lossAndGradients(TOKENS, LABELS, set, Set.of()).adapterGradients().get("lowrank");
            var check = GradientCheck.of(() -> m.model().loss(TOKENS, LABELS, set)).randomDirections(2, 7);
            var result = check.checkDirections(a.parameters(), analytic);
            System.out.println(backend + ": " + result);
            assertThat(result.failures(TOL)).as("%s", result).isEmpty();
            var joint = result.alongGradient(GradientCheck.ALL);
            assertThat(TOL * joint.scale() + joint.noiseFloor()).as("the joint check can fail: %s", joint)
                    .isLessThan(0.025 * joint.scale());
            for (String name : a.parameters().keySet()) {
                assertThat(result.alongGradient(name).gradient()).as("%s carries gradient", name).isGreaterThan(1e-3);
            }

            Map<String, Tensor> wrong = new LinkedHashMap<>(analytic);
            wrong.replaceAll((name, g) -> name.endsWith(LowRankStateOffsetProvider.U) ? scaled(g, 0.95f) : g);
            var caught = check.checkDirections(a.parameters(), wrong);
            assertThat(caught.failures(TOL)).as("U's gradient 5%% off: %s", caught)
                    .extracting(GradientCheck.Directional::scope).contains(u(0), u(1));
        }
    }

    private static final double TOL = 5e-3;

    private static Tensor scaled(Tensor t, float factor) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) {
            d[i] *= factor;
        }
        return Tensor.of(d, t.shape());
    }

    /**
     * Factors on a grid of 1/8 in [-1/2, 1/2] make every product U·V exact in float32, so the low-rank adapter and
     * the built-in state-offset holding h' = U·V must hand the backend the very same numbers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cpu", "djl"})
    void givesTheLogitsOfTheBuiltInStateOffsetHoldingUTimesV(String backend) throws Exception {
        try (Backend m = Backend.open(backend)) {
            Adapter low = TinyMamba.adapter("lowrank", NAME, RANK_2, 5);
            Adapter full = TinyMamba.adapter("full", "state-offset", StateOffsetConfig.DEFAULT, 5);
            var rng = new Random(9);
            int d = SHAPE.dInner();
            int n = SHAPE.dState();
            int r = RANK_2.rank();
            for (int l = 0; l < SHAPE.layers(); l++) {
                float[] u = low.parameter(u(l)).data();
                float[] v = low.parameter(v(l)).data();
                for (float[] f : new float[][] {u, v}) {
                    for (int i = 0; i < f.length; i++) {
                        f[i] = (rng.nextInt(9) - 4) / 8f;
                    }
                }
                float[] h = full.parameter("layers." + l + ".state_offset").data();
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < n; j++) {
                        float s = 0;
                        for (int k = 0; k < r; k++) {
                            s += u[i * r + k] * v[k * n + j];
                        }
                        h[i * n + j] = s;
                    }
                }
            }
            float[] lowLogits = m.model().forward(TOKENS, only(low)).values();
            for (int l = 0; l < SHAPE.layers(); l++) {
                assertThat(((StateOffsetHook) low).stateOffset(l).orElseThrow().data()).as("h' of layer %d", l)
                        .isEqualTo(full.parameter("layers." + l + ".state_offset").data());
            }
            float[] fullLogits = m.model().forward(TOKENS, only(full)).values();
            assertThat(lowLogits).isEqualTo(fullLogits);
            assertThat(lowLogits).isNotEqualTo(m.model().forward(TOKENS, m.model().noAdapters()).values());
        }
    }

    @Test
    void savedAndLoadedThroughAdapterFilesItGivesTheSameLogitsBitForBit(@TempDir Path dir) throws Exception {
        Adapter a = TinyMamba.adapter("lowrank", NAME, RANK_2, 6);
        long seed = 60;
        for (Tensor t : a.parameters().values()) {
            TinyMamba.randomize(t, 0.3, seed++);
        }
        AdapterFiles.save(a, dir);
        Adapter b = AdapterFiles.load(dir, SHAPE, TinyMamba.FACTORY);
        assertThat(b.name()).isEqualTo("lowrank");
        assertThat(b.method()).isEqualTo(NAME);
        assertThat(b.config()).isEqualTo(RANK_2);
        Map<String, float[]> saved = new LinkedHashMap<>();
        a.parameters().forEach((k, t) -> saved.put(k, t.data()));
        b.parameters().forEach((k, t) -> assertThat(t.data()).as(k).isEqualTo(saved.get(k)));
        try (Backend m = Backend.open("cpu")) {
            assertThat(m.model().forward(TOKENS, only(b)).values()).isEqualTo(m.model().forward(TOKENS, only(a))
                    .values());
        }
    }
}
