package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * Hooks the fixture has no numbers for (prefix tokens, parameter deltas, state extensions), composition of adapters, decoding with
 * hooks that act before the first token, and native memory across calls.
 */
class DjlBuiltInHooksTest {

    private static MambaWeights weights;
    private static DjlMamba model;
    private static int[][] tokens;
    private static SafetensorsFile peft;

    @BeforeAll
    static void load() throws Exception {
        DjlFixture.assumeEngine();
        weights = DjlFixture.weights();
        model = new DjlMamba(weights);
        tokens = DjlFixture.tokens();
        peft = DjlFixture.open("peft-grads.safetensors");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
            peft.close();
        }
    }

    private static void copy(Adapter a, String parameter, float[] values) {
        System.arraycopy(values, 0, a.parameter(parameter).data(), 0, values.length);
    }

    /** Logits of feeding the tokens one at a time from a fresh cache: (B, L, V). */
    private static float[] stepLogits(AdapterSet set) {
        int batch = tokens.length;
        int len = tokens[0].length;
        int v = weights.config().vocabSize();
        HostState cache = model.newState(batch);
        float[] out = new float[batch * len * v];
        for (int t = 0; t < len; t++) {
            int[] column = new int[batch];
            for (int b = 0; b < batch; b++) {
                column[b] = tokens[b][t];
            }
            float[] logits = model.step(column, set, cache);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(logits, b * v, out, (b * len + t) * v, v);
            }
        }
        return out;
    }

    /** The last L of L' positions of (B, L', V) logits. */
    private static float[] lastPositions(float[] logits, int lengthWithVirtual) {
        int batch = tokens.length;
        int len = tokens[0].length;
        int v = weights.config().vocabSize();
        float[] out = new float[batch * len * v];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(logits, (b * lengthWithVirtual + lengthWithVirtual - len) * v, out, b * len * v,
                    len * v);
        }
        return out;
    }

    /**
     * Central difference of the loss along the normalised gradient d = g/|g| of all the adapter's parameters against
     * |g| (= g·d), relative.
     */
    private static double directionalDerivativeError(AdapterSet set, Adapter a, double eps) {
        Map<String, Tensor> g = model.lossAndGradients(tokens, tokens, set, Set.of()).adapterGradients().get(a.name());
        double norm = 0;
        for (Tensor t : g.values()) {
            for (float x : t.data()) {
                norm += (double) x * x;
            }
        }
        norm = Math.sqrt(norm);
        Map<String, float[]> start = new LinkedHashMap<>();
        a.parameters().forEach((n, t) -> start.put(n, t.data().clone()));
        double[] losses = new double[2];
        for (int side = 0; side < 2; side++) {
            double sign = side == 0 ? 1 : -1;
            for (Map.Entry<String, Tensor> e : a.parameters().entrySet()) {
                float[] p = e.getValue().data();
                float[] p0 = start.get(e.getKey());
                float[] d = g.get(e.getKey()).data();
                for (int i = 0; i < p.length; i++) {
                    p[i] = (float) (p0[i] + sign * eps * d[i] / norm);
                }
            }
            losses[side] = model.lossAndGradients(tokens, tokens, set, Set.of()).loss();
        }
        start.forEach((n, v) -> System.arraycopy(v, 0, a.parameter(n).data(), 0, v.length));
        double fd = (losses[0] - losses[1]) / (2 * eps);
        System.out.printf("djl %-22s |g| %.5e, central difference %.5e%n", a.method() + " " + a.name(), norm, fd);
        return Math.abs(fd - norm) / norm;
    }

    @Test
    void prefixTokensActThroughTheStatesTheyLeaveAndDecodingAppliesThemAtTheFirstStep() {
        AdapterSet set = DjlFixture.single(weights, "prefix", "prefix", new PrefixConfig(3, false, 8, 0.5));
        HostState cache = model.newState(tokens.length);
        var full = model.forward(tokens, set, cache);
        AdapterSet none = new AdapterSet(weights.config().toShape());
        assertThat(full.length()).isEqualTo(tokens[0].length); // prefix outputs are dropped
        assertThat(Fixtures.maxAbsDiff(full.values(), model.forward(tokens, none).values())).isGreaterThan(1e-3);
        assertThat(cache.position()).isEqualTo(tokens[0].length); // per-layer tokens are no stream positions
        assertThat(Fixtures.maxAbsDiff(stepLogits(set), full.values())).isLessThan(1e-5);
    }

    @Test
    void prefixGradientsAgreeWithCentralDifferences() {
        AdapterSet set = DjlFixture.single(weights, "prefix", "prefix", new PrefixConfig(3, false, 8, 0.5));
        assertThat(directionalDerivativeError(set, set.get("prefix"), 1e-2)).isLessThan(2e-2);
    }

    @Test
    void reparameterisedPrefixGradientsGoThroughTheAdaptersChainRule() {
        AdapterSet set = DjlFixture.single(weights, "mlp-prefix", "prefix", new PrefixConfig(3, true, 8, 0.5));
        assertThat(directionalDerivativeError(set, set.get("mlp-prefix"), 1e-2)).isLessThan(2e-2);
    }

    @Test
    void additionalScanStartsAsTheIdentityThenCarriesItsExtraStateThroughDecoding() {
        AdapterSet set = DjlFixture.single(weights, "scan", "additional-scan", AdditionalScanConfig.DEFAULT);
        AdapterSet none = new AdapterSet(weights.config().toShape());
        HostState cache = model.newState(tokens.length);
        assertThat(Fixtures.maxAbsDiff(model.forward(tokens, set, cache).values(), model.forward(tokens, none)
                .values())).isZero(); // E_C = 0: the new states are written, not read
        assertThat(cache.extraStateWidth(0)).isEqualTo(8);

        var random = new java.util.Random(3);
        set.get("scan").parameters().values().forEach(t -> {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (0.3 * random.nextGaussian());
            }
        });
        var full = model.forward(tokens, set);
        assertThat(Fixtures.maxAbsDiff(full.values(), model.forward(tokens, none).values())).isGreaterThan(1e-3);
        assertThat(Fixtures.maxAbsDiff(stepLogits(set), full.values())).isLessThan(1e-5);
        assertThat(directionalDerivativeError(set, set.get("scan"), 1e-2)).isLessThan(2e-2);
    }

    @Test
    void promptTokensAreAppliedAtTheFirstDecodingStep() throws Exception {
        AdapterSet set = DjlFixture.single(weights, "prompt_tuning", "prompt", new PromptConfig(5, 0.02));
        copy(set.get("prompt_tuning"), "prompt_embeddings", peft.readFloats("prompt_tuning.virtual_embeddings"));
        HostState cache = model.newState(tokens.length);
        var full = model.forward(tokens, set, cache);
        assertThat(full.length()).isEqualTo(5 + tokens[0].length);
        assertThat(full.virtualTokens()).isEqualTo(5);
        assertThat(cache.position()).isEqualTo(5 + tokens[0].length); // prompt tokens are stream positions
        float[] expected = lastPositions(peft.readFloats("prompt_tuning.logits"), 5 + tokens[0].length);
        assertThat(Fixtures.maxAbsDiff(stepLogits(set), expected)).isLessThan(DjlFixture.ABS_TOL);
    }

    @Test
    void initialStateIsAppliedAtTheFirstDecodingStep() throws Exception {
        AdapterSet set = DjlFixture.single(weights, "initial_state", "initial-state",
                new InitialStateConfig(StateInit.ZERO));
        for (int l = 0; l < 2; l++) {
            copy(set.get("initial_state"), "layers." + l + ".initial_state",
                    peft.readFloats("initial_state.layers." + l + ".h0"));
        }
        assertThat(Fixtures.maxAbsDiff(stepLogits(set), peft.readFloats("initial_state.logits")))
                .isLessThan(DjlFixture.ABS_TOL);
    }

    @Test
    void offsetsOfSeveralActingAdaptersAddUp() throws Exception {
        AdapterSet set = new AdapterSet(weights.config().toShape());
        var config = new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO);
        set.add(DjlFixture.adapter(weights, "first", "state-offset", config));
        set.add(DjlFixture.adapter(weights, "second", "state-offset", config));
        for (int l = 0; l < 2; l++) {
            float[] h = peft.readFloats("state_offset_h.layers." + l + ".h_off");
            float[] first = new float[h.length];
            float[] second = new float[h.length];
            for (int i = 0; i < h.length; i++) {
                first[i] = 0.25f * h[i];
                second[i] = h[i] - first[i];
            }
            copy(set.get("first"), "layers." + l + ".state_offset", first);
            copy(set.get("second"), "layers." + l + ".state_offset", second);
        }
        var g = model.lossAndGradients(tokens, tokens, set, Set.of());
        assertThat(Fixtures.maxAbsDiff(g.logits().values(), peft.readFloats("state_offset_h.logits")))
                .isLessThan(DjlFixture.ABS_TOL);
        for (String name : List.of("first", "second")) {
            for (int l = 0; l < 2; l++) {
                assertThat(DjlFixture.relativeError(g.adapterGradients().get(name).get("layers." + l + ".state_offset").data(),
                        peft.readFloats("state_offset_h.layers." + l + ".h_off.grad")))
                        .isLessThan(DjlFixture.GRAD_REL_TOL);
            }
        }
        set.disable("second");
        assertThat(model.lossAndGradients(tokens, tokens, set, Set.of()).adapterGradients()).containsOnlyKeys("first");
    }

    /** A BitFit-like adapter: deltas on chosen base tensors by Hugging Face name. */
    record DeltaConfig() {
    }

    static final class DeltaAdapter extends Adapter implements ParameterHook {
        static final List<String> NAMES = List.of("backbone.layers.0.mixer.D", "backbone.layers.1.mixer.dt_proj.bias",
                "backbone.norm_f.weight");

        DeltaAdapter(AdapterContext<DeltaConfig> context) {
            super(context, List.of(
                    ParameterSpec.global(NAMES.get(0), new Initializer.Zeros(), HookKind.PARAMETER, false, 128),
                    ParameterSpec.global(NAMES.get(1), new Initializer.Zeros(), HookKind.PARAMETER, false, 128),
                    ParameterSpec.global(NAMES.get(2), new Initializer.Zeros(), HookKind.PARAMETER, false, 64)));
        }

        @Override
        public Optional<Tensor> parameterDelta(String baseName) {
            return parameterIfPresent(baseName);
        }

        @Override
        public java.util.Set<String> parameterDeltaNames() {
            return parameters().keySet();
        }
    }

    @Test
    void parameterDeltasAddToTheBaseWeightsAndGetTheBaseGradients() throws Exception {
        var shape = weights.config().toShape();
        DeltaAdapter delta = new DeltaAdapter(new AdapterContext<>("delta", "delta", new DeltaConfig(), shape,
                LayerSelection.ALL));
        AdapterSet set = new AdapterSet(shape).add(delta);

        // at Δθ = 0: dL/dΔθ = dL/dθ of full fine-tuning
        var g = model.lossAndGradients(tokens, tokens, set, Set.of(DeltaAdapter.NAMES.get(0)));
        try (SafetensorsFile full = DjlFixture.open("full-ft-grads.safetensors")) {
            for (String name : DeltaAdapter.NAMES) {
                assertThat(DjlFixture.relativeError(g.adapterGradients().get("delta").get(name).data(),
                        full.readFloats(name + ".grad"))).as(name).isLessThan(DjlFixture.GRAD_REL_TOL);
            }
            // a base tensor trained directly and through a delta gets the same gradient
            assertThat(g.baseGradients().get(DeltaAdapter.NAMES.get(0)).data())
                    .containsExactly(g.adapterGradients().get("delta").get(DeltaAdapter.NAMES.get(0)).data());
        }

        // θ_base + Δθ computes as a model whose weights are θ_base + Δθ
        float[] d = delta.parameter(DeltaAdapter.NAMES.get(0)).data();
        for (int i = 0; i < d.length; i++) {
            d[i] = 0.05f * (i % 7 - 3);
        }
        float[] shifted = weights.layers().get(0).d().clone();
        for (int i = 0; i < shifted.length; i++) {
            shifted[i] += d[i];
        }
        var l0 = weights.layers().get(0);
        var layers = new ArrayList<>(weights.layers());
        layers.set(0, new org.ssmpeft.runtime.checkpoint.LayerWeights(l0.norm(), l0.inProj(), l0.inProjBias(),
                l0.convWeight(), l0.convBias(), l0.xProj(), l0.dtProj(), l0.dtProjBias(), l0.aLog(), shifted,
                l0.outProj(), l0.outProjBias()));
        var changed = new MambaWeights(weights.config(), weights.embedding(), layers, weights.normF(),
                weights.lmHead());
        try (DjlMamba other = new DjlMamba(changed)) {
            AdapterSet none = new AdapterSet(shape);
            assertThat(Fixtures.maxAbsDiff(model.forward(tokens, set).values(), other.forward(tokens, none).values()))
                    .isLessThan(1e-6);
        }
    }

    @Test
    void callsLeaveNoNativeArraysBehind() {
        AdapterSet set = DjlFixture.single(weights, "prefix", "prefix", new PrefixConfig(3, false, 8, 0.5));
        int before = model.nativeArrayCount();
        for (int i = 0; i < 3; i++) {
            model.forward(tokens, set);
            model.lossAndGradients(tokens, tokens, set, Set.of("backbone.layers.0.mixer.A_log"));
            model.step(new int[] {1, 2}, set, model.newState(2));
        }
        assertThat(model.nativeArrayCount()).isEqualTo(before).isEqualTo(model.parameterNames().size());
    }
}
