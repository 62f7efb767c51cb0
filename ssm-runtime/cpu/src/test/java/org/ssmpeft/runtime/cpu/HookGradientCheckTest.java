package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The backward of every hook kind against central finite differences ({@link GradientCheck#checkDirections}) on a
 * small random model (vocab 13, d_model 8, D 16, N 4, R 1, 2 layers; B = 2, T = 6, some labels ignored). Adapter
 * parameters are random, not their zero start, so every path carries gradient. Directional checks over all the
 * checked tensors jointly and over each tensor, along g/|g| and {@value #RANDOM_DIRECTIONS} Gaussian directions:
 * |FD − ⟨g, v⟩| ≤ {@value #TOL} · |g||v| + floor, where the floor is the float32 noise of the loss divided by the step
 * (1.4e-3 |g||v| wherever the step reaches its loss change, see {@link GradientCheck}). The relative part is the
 * numeric contract's ({@code MethodNumericContract.FD_REL}): the checks here err by at most a few 1e-4 |g||v|, and a
 * 5% scale error of a tensor reads 5e-2 along its g/|g|, a sign flip 2. Tensors whose gradient is too small for a
 * float32 difference (a' of the additional scans, dt_proj deltas; their floor can exceed {@value #TOL} |g||v|) are
 * checked against their floor, which still catches a sign flip; the joint check along g must see scale errors above
 * {@value #JOINT_RESOLUTION}.
 */
class HookGradientCheckTest {

    private static final double TOL = 5e-3;
    private static final double JOINT_RESOLUTION = 0.025;
    private static final int RANDOM_DIRECTIONS = 2;

    private static final MambaConfig CONFIG = RandomMamba.config(13, 8, 4, 2);
    private static final ModelShape SHAPE = CONFIG.toShape();
    private static final CpuMamba MODEL = new CpuMamba(RandomMamba.weights(CONFIG, 11));
    private static final int[][] TOKENS = RandomMamba.tokens(2, 6, 13, 5);
    private static final int[][] LABELS = labels();
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private static int[][] labels() {
        int[][] l = new int[TOKENS.length][];
        for (int b = 0; b < l.length; b++) {
            l[b] = TOKENS[b].clone();
        }
        l[0][3] = CpuMamba.IGNORE_INDEX;
        l[1][5] = CpuMamba.IGNORE_INDEX;
        return l;
    }

    private static Adapter adapter(String name, String method, Record config, long seed) {
        Adapter a = FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), SHAPE,
                AdapterFactory.seeded(seed));
        return RandomMamba.randomize(a, 0.3, seed);
    }

    /** Analytic gradients of every parameter of the given adapters against finite differences of the loss. */
    private static GradientCheck.DirectionalResult check(CpuMamba model, AdapterSet set, Adapter... adapters) {
        var result = model.lossAndGradients(TOKENS, LABELS, set, Set.of());
        Map<String, Tensor> params = new LinkedHashMap<>();
        Map<String, Tensor> grads = new LinkedHashMap<>();
        for (Adapter a : adapters) {
            a.parameters().forEach((n, t) -> {
                params.put(a.name() + "/" + n, t);
                grads.put(a.name() + "/" + n, result.adapterGradient(a.name(), n));
            });
        }
        var fd = GradientCheck.of(() -> model.loss(TOKENS, LABELS, set)).randomDirections(RANDOM_DIRECTIONS, 7)
                .checkDirections(params, grads);
        System.out.println(fd);
        params.keySet().forEach(n -> assertThat(grads.get(n).isZero()).as("%s carries gradient", n).isFalse());
        return fd;
    }

    private static void assertPasses(GradientCheck.DirectionalResult r) {
        var joint = r.alongGradient(GradientCheck.ALL);
        assertThat(TOL * joint.scale() + joint.noiseFloor()).as("the joint check can fail: %s", joint)
                .isLessThanOrEqualTo(JOINT_RESOLUTION * joint.scale());
        assertThat(r.failures(TOL)).as("%s", r).isEmpty();
    }

    @Test
    void stateOffsetOnH() {
        Adapter a = adapter("h", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), 1);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void stateOffsetOnY() {
        Adapter a = adapter("y", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO), 2);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void initialState() {
        Adapter a = adapter("h0", "initial-state", new InitialStateConfig(StateInit.ZERO), 3);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void additionalScan() {
        Adapter a = adapter("scan", "additional-scan", new AdditionalScanConfig(3,
                AdditionalScanConfig.AInit.LOG_RANGE), 18);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void twoAdditionalScansWithTheOtherStateHooksOnSomeLayers() {
        Adapter first = adapter("scan-a", "additional-scan", new AdditionalScanConfig(2,
                AdditionalScanConfig.AInit.LOG_RANGE), 19);
        Adapter second = RandomMamba.randomize(FACTORY.create(new AdapterConfig("scan-b", "additional-scan",
                LayerSelection.of(1), new AdditionalScanConfig(1, AdditionalScanConfig.AInit.REFERENCE)), SHAPE,
                AdapterFactory.seeded(20)), 0.3, 20);
        Adapter h0 = adapter("h0", "initial-state", new InitialStateConfig(StateInit.ZERO), 21);
        Adapter h = adapter("h", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO),
                22);
        Adapter prefix = adapter("prefix", "prefix", new PrefixConfig(2, false, 8, 0.02), 23);
        var set = new AdapterSet(SHAPE).add(first).add(second).add(h0).add(h).add(prefix);
        assertPasses(check(MODEL, set, first, second, h0, h, prefix));
    }

    @Test
    void promptTuning() {
        Adapter a = adapter("prompt", "prompt", new PromptConfig(3, 0.02), 4);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void prefixTuningWithoutMlp() {
        Adapter a = adapter("prefix", "prefix", new PrefixConfig(2, false, 8, 0.02), 5);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void prefixTuningWithMlp() {
        Adapter a = adapter("prefix-mlp", "prefix", new PrefixConfig(2, true, 6, 0.02), 6);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void prefixOnOneLayerOnly() {
        Adapter a = FACTORY.create(new AdapterConfig("prefix-1", "prefix", LayerSelection.of(1),
                new PrefixConfig(3, false, 8, 0.02)), SHAPE, AdapterFactory.seeded(9));
        RandomMamba.randomize(a, 0.3, 9);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void loraOnRowBlocksDtProjOutProjAndTheHead() {
        Adapter a = adapter("lora-blocks", "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_X,
                Projection.IN_PROJ_Z, Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.X_PROJ_C,
                Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), false), 7);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void loraOnWholeProjectionsWithRsLora() {
        Adapter a = adapter("lora-whole", "lora", new LoraConfig(3, 2.0, 0.0, List.of(Projection.IN_PROJ,
                Projection.X_PROJ), true), 8);
        assertPasses(check(MODEL, new AdapterSet(SHAPE).add(a), a));
    }

    @Test
    void twoComposedAdaptersGetTheGradientOfTheirSum() {
        Adapter first = adapter("offset-a", "state-offset",
                new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), 10);
        Adapter second = adapter("offset-b", "state-offset",
                new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), 11);
        Adapter lora = adapter("lora", "lora", LoraConfig.DEFAULT, 12);
        var set = new AdapterSet(SHAPE).add(first).add(second).add(lora);
        assertPasses(check(MODEL, set, first, second, lora));

        // h' enters as h'_a + h'_b: both get the very same gradient
        var g = MODEL.lossAndGradients(TOKENS, LABELS, set, Set.of());
        assertThat(g.adapterGradient("offset-a", "layers.1.state_offset").data())
                .isEqualTo(g.adapterGradient("offset-b", "layers.1.state_offset").data());
    }

    @Test
    void everyHookKindAtOnce() {
        Adapter prompt = adapter("prompt", "prompt", new PromptConfig(2, 0.02), 13);
        Adapter prefix = adapter("prefix", "prefix", new PrefixConfig(2, true, 4, 0.02), 14);
        Adapter h0 = adapter("h0", "initial-state", new InitialStateConfig(StateInit.ZERO), 15);
        Adapter y = adapter("y", "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO),
                16);
        Adapter lora = adapter("lora", "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.X_PROJ_B,
                Projection.HEAD), false), 17);
        var set = new AdapterSet(SHAPE).add(prompt).add(prefix).add(h0).add(y).add(lora);
        assertPasses(check(MODEL, set, prompt, prefix, h0, y, lora));
    }

    @Test
    void parameterHookDeltasOnBaseWeightsIncludingBiasesAndAnUntiedHead() {
        MambaConfig c = RandomMamba.untiedWithBias(13, 8, 4, 2);
        var model = new CpuMamba(RandomMamba.weights(c, 21));
        Map<String, Tensor> named = model.weights().parameters();
        var deltas = BaseDeltaAdapter.of("bitfit", c.toShape(), named, named.keySet());
        RandomMamba.randomize(deltas, 0.02, 22);
        var set = new AdapterSet(c.toShape()).add(deltas);
        assertPasses(check(model, set, deltas));
    }

    @Test
    void trainableBaseParametersGetTheGradientAParameterHookGets() {
        Map<String, Tensor> named = MODEL.weights().parameters();
        var deltas = BaseDeltaAdapter.of("deltas", SHAPE, named, named.keySet()); // zero deltas: θ = θ_base
        var withHook = MODEL.lossAndGradients(TOKENS, LABELS, new AdapterSet(SHAPE).add(deltas), Set.of());
        var direct = MODEL.lossAndGradients(TOKENS, LABELS, MODEL.noAdapters(), named.keySet());
        assertThat(withHook.loss()).isEqualTo(direct.loss());
        for (String n : named.keySet()) {
            assertThat(withHook.adapterGradient("deltas", n).data()).as(n)
                    .isEqualTo(direct.baseGradients().get(n).data());
        }
    }

    @Test
    void onlyRequestedBaseGradientsAreReturned() {
        String d = MambaWeights.layerName(1, "mixer.D");
        var g = MODEL.lossAndGradients(TOKENS, LABELS, MODEL.noAdapters(), Set.of(d));
        assertThat(g.baseGradients()).containsOnlyKeys(d);
        assertThat(g.adapterGradients()).isEmpty();
        assertThat(g.targets()).isEqualTo(2 * 5 - 2);
    }
}
