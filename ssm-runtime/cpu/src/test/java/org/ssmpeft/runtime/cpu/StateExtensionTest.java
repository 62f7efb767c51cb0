package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.stateoffset.AdditionalScanConfig;

/**
 * Additional-scan's state extension on the cpu backend: identity at its start, the extra state in the cache through
 * decoding, the composition rule (two extensions are one concatenated extension), and the cache refusing to continue
 * a sequence under other extensions. Gradients are in {@link HookGradientCheckTest}, cpu against djl in
 * {@code DjlCpuParityTest}.
 */
class StateExtensionTest {

    private static final MambaConfig CONFIG = RandomMamba.config(17, 16, 4, 3);
    private static final ModelShape SHAPE = CONFIG.toShape();
    private static final MambaWeights WEIGHTS = RandomMamba.weights(CONFIG, 31);
    private static final CpuMamba MODEL = new CpuMamba(WEIGHTS);
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    private static Adapter scan(String name, int n, AdditionalScanConfig.AInit init, LayerSelection layers,
                                long seed) {
        return FACTORY.create(new AdapterConfig(name, "additional-scan", layers, new AdditionalScanConfig(n, init)),
                SHAPE, AdapterFactory.seeded(seed));
    }

    private static Adapter randomScan(String name, int n, LayerSelection layers, long seed) {
        return RandomMamba.randomize(scan(name, n, AdditionalScanConfig.AInit.LOG_RANGE, layers, seed), 0.3, seed);
    }

    @Test
    void atItsStartTheModelIsUnchangedBitForBitWithEitherDecayInit() {
        int[][] tokens = RandomMamba.tokens(2, 7, CONFIG.vocabSize(), 4);
        float[] base = MODEL.forward(tokens).logits();
        for (var init : AdditionalScanConfig.AInit.values()) {
            var set = new AdapterSet(SHAPE).add(scan("scan", 8, init, LayerSelection.ALL, 1));
            HostState cache = MODEL.newState(2);
            assertThat(MODEL.forward(tokens, set, cache).values()).as("%s", init).isEqualTo(base);
            // the new states were written (E_B is random) but not read (E_C = 0)
            assertThat(cache.extraStateWidth(0)).isEqualTo(8);
            boolean written = false;
            for (float v : cache.extraState(2)) {
                written |= v != 0f;
            }
            assertThat(written).as("extra state written, %s", init).isTrue();
        }
    }

    @Test
    void decodingCarriesTheExtraStateAndEqualsTheFullForward() {
        var set = new AdapterSet(SHAPE).add(randomScan("scan", 3, LayerSelection.of(0, 2), 2));
        int[][] tokens = RandomMamba.tokens(2, 9, CONFIG.vocabSize(), 3);
        HostState full = MODEL.newState(2);
        var logits = MODEL.forward(tokens, set, full);
        HostState cache = MODEL.newState(2);
        double worst = 0;
        for (int t = 0; t < 9; t++) {
            float[] step = MODEL.step(new int[] {tokens[0][t], tokens[1][t]}, set, cache);
            for (int b = 0; b < 2; b++) {
                worst = Math.max(worst, Fixtures.maxAbsDiff(Arrays.copyOfRange(step, b * CONFIG.vocabSize(),
                        (b + 1) * CONFIG.vocabSize()), logits.at(b, t)));
            }
        }
        System.out.printf("additional-scan decode vs full forward: max abs difference %.3e%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-6);
        assertThat(cache.extraStateWidth(1)).isZero();
        assertThat(cache.extraState(1)).isEmpty();
        for (int l : new int[] {0, 2}) {
            assertThat(cache.extraStateWidth(l)).isEqualTo(3);
            assertThat(cache.extraState(l)).hasSize(2 * CONFIG.dInner() * 3);
            assertThat(Fixtures.maxAbsDiff(cache.extraState(l), full.extraState(l))).isLessThanOrEqualTo(1e-6);
            assertThat(Fixtures.maxAbsDiff(cache.ssmState(l), full.ssmState(l))).isLessThanOrEqualTo(1e-6);
        }
    }

    @Test
    void twoExtensionsActLikeOneWithTheirTensorsConcatenated() {
        Adapter first = randomScan("first", 2, LayerSelection.ALL, 5);
        Adapter second = randomScan("second", 3, LayerSelection.of(1), 6);
        Adapter joined = scan("joined", 5, AdditionalScanConfig.AInit.REFERENCE, LayerSelection.of(1), 7);
        concatenate(joined, first, second, 1);
        int[][] tokens = RandomMamba.tokens(2, 8, CONFIG.vocabSize(), 8);

        HostState both = MODEL.newState(2);
        float[] composed = MODEL.forward(tokens, new AdapterSet(SHAPE).add(first).add(second), both).values();
        assertThat(both.extraStateWidth(0)).isEqualTo(2);
        assertThat(both.extraStateWidth(1)).isEqualTo(5);

        // in layer 1 the pair is the joined extension; layers 0 and 2 keep the first alone
        Adapter rest = randomScan("rest", 2, LayerSelection.of(0, 2), 5);
        for (int l : new int[] {0, 2}) {
            for (String p : new String[] {"a_extra", "b_extra", "c_extra"}) {
                copy(first.parameter("layers." + l + "." + p), rest.parameter("layers." + l + "." + p));
            }
        }
        HostState one = MODEL.newState(2);
        float[] single = MODEL.forward(tokens, new AdapterSet(SHAPE).add(rest).add(joined), one).values();
        assertThat(Fixtures.maxAbsDiff(composed, single)).isLessThanOrEqualTo(1e-5);
        assertThat(Fixtures.maxAbsDiff(both.extraState(1), one.extraState(1))).isLessThanOrEqualTo(1e-6);
    }

    /** joined's layer tensors = [a'_1 | a'_2], [E_B1; E_B2], [E_C1; E_C2] of two extensions on {@code layer}. */
    private static void concatenate(Adapter joined, Adapter first, Adapter second, int layer) {
        String l = "layers." + layer + ".";
        int di = CONFIG.dInner();
        float[] a = joined.parameter(l + "a_extra").data();
        float[] a1 = first.parameter(l + "a_extra").data();
        float[] a2 = second.parameter(l + "a_extra").data();
        for (int d = 0; d < di; d++) {
            System.arraycopy(a1, d * 2, a, d * 5, 2);
            System.arraycopy(a2, d * 3, a, d * 5 + 2, 3);
        }
        for (String p : new String[] {"b_extra", "c_extra"}) {
            float[] j = joined.parameter(l + p).data();
            System.arraycopy(first.parameter(l + p).data(), 0, j, 0, 2 * di);
            System.arraycopy(second.parameter(l + p).data(), 0, j, 2 * di, 3 * di);
        }
    }

    private static void copy(Tensor from, Tensor to) {
        System.arraycopy(from.data(), 0, to.data(), 0, from.size());
    }

    @Test
    void aSequenceCannotContinueUnderOtherStateExtensions() {
        Adapter scan = randomScan("scan", 2, LayerSelection.ALL, 9);
        var with = new AdapterSet(SHAPE).add(scan);
        int[][] tokens = RandomMamba.tokens(1, 4, CONFIG.vocabSize(), 10);

        HostState started = MODEL.newState(1);
        MODEL.forward(tokens, with, started);
        assertThatThrownBy(() -> MODEL.step(new int[] {1}, MODEL.noAdapters(), started))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("this state was started with extra state widths [2, 2, 2]")
                .hasMessageContaining("extend the state by [0, 0, 0]")
                .hasMessageContaining("fresh state");

        HostState plain = MODEL.newState(1);
        MODEL.forward(tokens, MODEL.noAdapters(), plain);
        assertThatThrownBy(() -> MODEL.step(new int[] {1}, with, plain))
                .hasMessageContaining("started with extra state widths [0, 0, 0]");

        // a fresh cache takes any extension, and a plain sequence stays plain
        MODEL.step(new int[] {1}, with, MODEL.newState(1));
        MODEL.step(new int[] {1}, MODEL.noAdapters(), plain);
    }

    @Test
    void aCopiedCacheCarriesItsExtraState() {
        var set = new AdapterSet(SHAPE).add(randomScan("scan", 2, LayerSelection.ALL, 11));
        HostState cache = MODEL.newState(2);
        MODEL.forward(RandomMamba.tokens(2, 5, CONFIG.vocabSize(), 12), set, cache);
        HostState copy = cache.fork();
        assertThat(copy.extraStateWidth(2)).isEqualTo(2);
        assertThat(copy.extraState(2)).isEqualTo(cache.extraState(2)).isNotSameAs(cache.extraState(2));
        float[] a = MODEL.step(new int[] {3, 4}, set, cache);
        float[] b = MODEL.step(new int[] {3, 4}, set, copy);
        assertThat(b).isEqualTo(a);
    }
}
