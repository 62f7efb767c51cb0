package org.ssmpeft.runtime.cuda.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * The cuda model in tf32 and bf16 on the emulated device ({@link HostDevice}: {@link HostProducts} rounds every
 * product's inputs as the precision does, and in bf16 reads them from bf16 buffers only, so an operand the model
 * forgot to convert fails), against the cpu's fp32: the loss, the logits and every gradient stay within bounds
 * suited to the precision, and bf16 really rounds (it differs from fp32). The bounds come from what the emulation
 * measured over the two contract models x seven adapter configs (printed by {@link #report()}), with about 2x margin:
 * <pre>
 *   relative error against cpu fp32       loss     logits   gradients (max |Δ| / max |g| per tensor)
 *   tf32  measured                         1.4e-4   2.6e-3   1.3e-2   (‖Δ‖/‖g‖ 1.2e-2)
 *         bound                            1e-3     1e-2     5e-2
 *   bf16  measured                         3.1e-3   2.1e-2   1.15e-1  (‖Δ‖/‖g‖ 7.2e-2)
 *         bound                            1e-2     5e-2     2.5e-1
 * </pre>
 * The gradients move far more than the inputs' rounding (bf16 keeps 8 significant bits, 2^-9 = 2e-3 relative; tf32
 * 11, 4.9e-4): these tiny random models (d 6-8, two layers, random weights) cancel heavily in their backward, and
 * the error grows with the rounding unit (bf16's unit is 4x tf32's; their gradient errors differ about 9x). That
 * the errors are rounding and nothing else is {@link #bf16RoutingWithoutTheRoundingComputesFp32BitForBit}'s check.
 * tf32 is emulated as round-to-nearest TF32 inputs: the size of the hardware's error, not its bits.
 */
class EmulatedPrecisionTest {

    /** Bounds: relative to the cpu's fp32 (loss: |Δ| / max(1, |L|); arrays: max |Δ| / max |reference|). */
    record Bounds(double loss, double logits, double gradients) {
    }

    static final Map<Precision, Bounds> BOUNDS = Map.of(
            Precision.TF32, new Bounds(1e-3, 1e-2, 5e-2),
            Precision.BF16, new Bounds(1e-2, 5e-2, 2.5e-1));

    /** Adapter configs reaching every product route: activations, per-call weights, resident copies, DoRA rows. */
    static final Map<String, String> CONFIGS = new LinkedHashMap<>();

    static {
        CONFIGS.put("no adapter, every base parameter trained", "");
        CONFIGS.put("lora, every target and the head", "method: lora\nrank: 2\ntargets: [in_proj, x_proj, dt_proj,"
                + " out_proj, head]\n");
        CONFIGS.put("dora on row blocks", "method: lora\nrank: 2\nuse_dora: true\ntargets: [in_proj.z, x_proj.B,"
                + " out_proj, head]\n");
        CONFIGS.put("parameter deltas on every matrix", "method: partial-ft\nlayer_parameters: [in_proj.weight,"
                + " x_proj.weight, dt_proj.weight, out_proj.weight, A_log, D]\n"
                + "model_parameters: [embeddings.weight]\n");
        CONFIGS.put("state-offset h", "method: state-offset\nvariant: h\n");
        CONFIGS.put("prefix", "method: prefix\nnum_virtual_tokens: 2\n");
        CONFIGS.put("additional-scan", "method: additional-scan\n");
    }

    static final List<ModelCase> MODELS = RandomModels.defaults();
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());
    private static final Map<String, double[]> MEASURED = new LinkedHashMap<>();

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Precision p : List.of(Precision.TF32, Precision.BF16)) {
            for (ModelCase m : MODELS) {
                for (String kind : CONFIGS.keySet()) {
                    out.add(Arguments.of(p, m.name(), kind));
                }
            }
        }
        return out.stream();
    }

    private static ModelCase model(String name) {
        return MODELS.stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow();
    }

    private static AdapterSet adapters(ModelCase m, String kind) {
        AdapterSet set = new AdapterSet(m.weights().shape());
        String yaml = CONFIGS.get(kind);
        if (!yaml.isEmpty()) {
            AdapterConfig parsed = FACTORY.reader().parse(yaml, ConfigFormat.YAML).getFirst();
            Adapter a = FACTORY.create(new AdapterConfig("a", parsed.method(), parsed.layers(), parsed.config()),
                    m.weights().shape(), AdapterFactory.seeded(17));
            set.add(RandomModels.randomize(a, 0.1, 17));
        }
        return set;
    }

    private static Set<String> trainable(ModelCase m, String kind) {
        return CONFIGS.get(kind).isEmpty() ? m.weights().parameters().keySet() : Set.of();
    }

    private static SsmModel emulated(MambaWeights w, Precision p) {
        return new HostDevice().create(w.withPrecision(p));
    }

    @ParameterizedTest(name = "{0}, {1}, {2}")
    @MethodSource("cases")
    void lossLogitsAndGradientsStayWithinThePrecisionsBoundsOfCpuFp32(Precision p, String modelName, String kind) {
        ModelCase m = model(modelName);
        AdapterSet set = adapters(m, kind);
        Set<String> trainable = trainable(m, kind);
        LossAndGradients want = Backends.forName(Backends.CPU).create(m.weights())
                .lossAndGradients(m.tokens(), m.labels(), set, trainable);
        SsmModel model = emulated(m.weights(), p);
        LossAndGradients got = model.lossAndGradients(m.tokens(), m.labels(), set, trainable);
        Bounds b = BOUNDS.get(p);
        String what = p + ", " + modelName + ", " + kind;

        double loss = Math.abs(got.loss() - want.loss()) / Math.max(1, Math.abs(want.loss()));
        double logits = Fixtures.relativeError(got.logits().values(), want.logits().values());
        double grads = 0;
        double gradNorm = 0;
        for (var e : want.baseGradients().entrySet()) {
            float[] mine = got.baseGradients().get(e.getKey()).data();
            grads = Math.max(grads, Fixtures.relativeError(mine, e.getValue().data()));
            gradNorm = Math.max(gradNorm, normError(mine, e.getValue().data()));
        }
        for (var a : want.adapterGradients().entrySet()) {
            for (var e : a.getValue().entrySet()) {
                float[] mine = got.adapterGradient(a.getKey(), e.getKey()).data();
                grads = Math.max(grads, Fixtures.relativeError(mine, e.getValue().data()));
                gradNorm = Math.max(gradNorm, normError(mine, e.getValue().data()));
            }
        }
        record(p, loss, logits, grads, gradNorm);
        assertThat(got.baseGradients()).containsOnlyKeys(want.baseGradients().keySet());
        assertThat(got.adapterGradients().keySet()).isEqualTo(want.adapterGradients().keySet());
        assertThat(loss).as("%s: loss %s against cpu fp32 %s", what, got.loss(), want.loss())
                .isLessThanOrEqualTo(b.loss());
        assertThat(logits).as("%s: logits' relative error", what).isLessThanOrEqualTo(b.logits());
        assertThat(grads).as("%s: the largest gradient's relative error", what).isLessThanOrEqualTo(b.gradients());
        assertThat(model.loss(m.tokens(), m.labels(), set)).as("%s: the forward-only loss is the training one", what)
                .isCloseTo(got.loss(), org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(got.loss()))));
    }

    /** ‖a − b‖₂ / ‖b‖₂ (‖a − b‖₂ when b is 0). */
    static double normError(float[] a, float[] b) {
        double d = 0;
        double n = 0;
        for (int i = 0; i < b.length; i++) {
            d += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
            n += (double) b[i] * b[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    private static synchronized void record(Precision p, double loss, double logits, double grads, double norm) {
        double[] r = MEASURED.computeIfAbsent(p.id(), k -> new double[4]);
        r[0] = Math.max(r[0], loss);
        r[1] = Math.max(r[1], logits);
        r[2] = Math.max(r[2], grads);
        r[3] = Math.max(r[3], norm);
    }

    @AfterAll
    static void report() {
        MEASURED.forEach((p, r) -> System.out.printf(Locale.ROOT, "emulated %s against cpu fp32, max over %d cases:"
                + " loss %.3e, logits %.3e, gradients %.3e (max |Δ| / max |g|), %.3e (‖Δ‖ / ‖g‖)%n", p,
                MODELS.size() * CONFIGS.size(), r[0], r[1], r[2], r[3]));
    }

    @Test
    void bf16RoundsTheProductsInputsSoItsResultsDifferFromFp32() {
        for (ModelCase m : MODELS) {
            AdapterSet set = adapters(m, "lora, every target and the head");
            LossAndGradients fp32 = emulated(m.weights(), Precision.FLOAT32)
                    .lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            LossAndGradients bf16 = emulated(m.weights(), Precision.BF16)
                    .lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            assertThat(bf16.loss()).as("%s: bf16 loss", m.name()).isNotEqualTo(fp32.loss());
            assertThat(Fixtures.relativeError(bf16.logits().values(), fp32.logits().values()))
                    .as("%s: bf16 logits against fp32 (bf16 keeps 8 significant bits: 2^-9 relative)", m.name())
                    .isGreaterThan(1e-4);
        }
    }

    /**
     * With the conversions left unrounded, every bf16 product reads from bf16 buffers (or fails) values equal to its
     * fp32 operands: the bf16 model then computes its fp32 twin's loss, logits and gradients bit for bit, which checks
     * every conversion's source, row stride and width, the resident copies (DoRA's rows inside them included), the
     * per-call copies and the contiguous strides handed to the products.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configNames")
    void bf16RoutingWithoutTheRoundingComputesFp32BitForBit(String kind) {
        for (ModelCase m : MODELS) {
            AdapterSet set = adapters(m, kind);
            Set<String> trainable = trainable(m, kind);
            LossAndGradients fp32 = new CudaMamba(m.weights(), HostDevice.create(new HostMemory()))
                    .lossAndGradients(m.tokens(), m.labels(), set, trainable);
            LossAndGradients routed = new CudaMamba(m.weights().withPrecision(Precision.BF16),
                    HostDevice.create(new HostMemory(), false)).lossAndGradients(m.tokens(), m.labels(), set,
                    trainable);
            String what = kind + ", " + m.name();
            assertThat(routed.loss()).as("%s: loss", what).isEqualTo(fp32.loss());
            assertThat(routed.logits().values()).as("%s: logits", what).containsExactly(fp32.logits().values());
            fp32.baseGradients().forEach((name, g) -> assertThat(routed.baseGradients().get(name).data())
                    .as("%s: dL/d%s", what, name).containsExactly(g.data()));
            fp32.adapterGradients().forEach((a, grads) -> grads.forEach((name, g) ->
                    assertThat(routed.adapterGradient(a, name).data()).as("%s: dL/d%s of %s", what, name, a)
                            .containsExactly(g.data())));
        }
    }

    static Stream<String> configNames() {
        return CONFIGS.keySet().stream();
    }

    @Test
    void fp32OnTheEmulationIsUnchangedByThePrecisionOption() {
        for (ModelCase m : MODELS) {
            AdapterSet set = adapters(m, "lora, every target and the head");
            LossAndGradients plain = new HostDevice().create(m.weights())
                    .lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            LossAndGradients asked = emulated(m.weights(), Precision.FLOAT32)
                    .lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            assertThat(asked.loss()).isEqualTo(plain.loss());
            assertThat(asked.logits().values()).containsExactly(plain.logits().values());
        }
    }

    @Test
    void aBf16ModelKeepsItsCopiesWithItsWeightsAndFreesEverythingOnClose() {
        ModelCase m = MODELS.getFirst();
        var mem = new HostMemory();
        var fp32 = new CudaMamba(m.weights(), HostDevice.create(mem));
        int fp32Resident = mem.liveAllocations();
        fp32.close();
        var model = new CudaMamba(m.weights().withPrecision(Precision.BF16), HostDevice.create(mem));
        int resident = mem.liveAllocations();
        // the product matrices: 4 per layer and the head
        assertThat(resident).as("resident buffers: the fp32 weights and the bf16 copies")
                .isEqualTo(fp32Resident + 4 * m.config().layers() + 1);
        model.lossAndGradients(m.tokens(), m.labels(), adapters(m, "parameter deltas on every matrix"), Set.of());
        assertThat(mem.liveAllocations()).as("after a call: its scratch and per-call copies given back")
                .isEqualTo(resident);
        model.close();
        assertThat(mem.liveAllocations()).isZero();
    }

    @Test
    void cpuRefusesTf32AndBf16NamingItselfThePrecisionAndWhatItOffers() {
        MambaWeights w = MODELS.getFirst().weights();
        for (Precision p : List.of(Precision.TF32, Precision.BF16)) {
            assertThatThrownBy(() -> Backends.forName(Backends.CPU).create(w.withPrecision(p)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("backend 'cpu'").hasMessageContaining("cannot compute in " + p.id())
                    .hasMessageContaining("it offers: fp32");
        }
        assertThat(Backends.forName(Backends.CPU).create(w.withPrecision(Precision.FLOAT32)).spec().precision())
                .isEqualTo(Precision.FLOAT32);
    }

    @Test
    void precisionsParseFromTheirNamesAndAnUnknownOneListsTheValidOnes() {
        assertThat(Precision.forName("BF16")).isEqualTo(Precision.BF16);
        assertThat(Precision.forName("tf32")).isEqualTo(Precision.TF32);
        assertThat(Precision.forName(" fp32 ")).isEqualTo(Precision.FLOAT32);
        assertThatThrownBy(() -> Precision.forName("fp16")).hasMessage("unknown precision 'fp16'; valid: fp32, tf32,"
                + " bf16");
    }

    @Test
    void theWeightsCarryTheirPrecisionThroughEveryCopy() {
        MambaWeights w = MODELS.getFirst().weights();
        assertThat(w.precision()).as("the default").isEqualTo(Precision.FLOAT32);
        MambaWeights bf16 = w.withPrecision(Precision.BF16);
        assertThat(bf16.embedding()).as("arrays shared, not copied").isSameAs(w.embedding());
        assertThat(bf16.with((name, a) -> a).precision()).isEqualTo(Precision.BF16);
        assertThat(bf16.withPrecision(Precision.FLOAT32).precision()).isEqualTo(Precision.FLOAT32);
    }
}
