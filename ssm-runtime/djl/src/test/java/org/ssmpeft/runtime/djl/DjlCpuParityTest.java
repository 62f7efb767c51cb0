package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.HostStateModel;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.cpu.CpuMamba2;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * The cpu backend against the djl reference on seeded random models ({@link RandomCase}): every built-in method,
 * composed, on all or some layers, with random values, and random trainable base parameters. Agreement asked for:
 * logits, hidden states, cache states and loss within {@value #ABS_TOL} absolute (times max(1, max |value|), for
 * states that grow large); every gradient (each adapter parameter, each trainable base parameter) within
 * {@value #GRAD_REL_TOL} of the tensor's max |value|, relative.
 * The default run checks one case per adapter kind and one with every kind; the sweep over
 * {@value #SWEEP} more shapes is {@code @Tag("slow")}. The largest differences seen are printed after the class.
 */
class DjlCpuParityTest {

    static final double ABS_TOL = 1e-4;
    static final double GRAD_REL_TOL = 1e-3;
    static final int SWEEP = 300;
    /** Random Mamba-2 cases of the default run (each of the mapped adapter kinds first at least twice). */
    static final int MAMBA2_CASES = 24;

    /** Largest difference seen per quantity, over all cases run. */
    private static final Map<String, Double> WORST = new ConcurrentHashMap<>();

    @BeforeAll
    static void engine() {
        DjlFixture.assumeEngine();
    }

    @AfterAll
    static void report() {
        if (!WORST.isEmpty()) {
            System.out.println("cpu vs djl, largest differences: " + new java.util.TreeMap<>(WORST));
        }
    }

    static Stream<Arguments> oneCasePerKind() {
        Stream<Arguments> each = Stream.of(RandomCase.Kind.values())
                .map(k -> Arguments.of(1000L + k.ordinal(), EnumSet.of(k)));
        return Stream.concat(each, Stream.of(Arguments.of(2000L, EnumSet.complementOf(EnumSet.of(
                RandomCase.Kind.PREFIX)))));
    }

    static LongStream sweep() {
        return LongStream.range(0, SWEEP);
    }

    @ParameterizedTest(name = "seed {0}, {1}")
    @MethodSource("oneCasePerKind")
    void cpuAgreesWithDjlOnEveryAdapterKind(long seed, Set<RandomCase.Kind> kinds) {
        check(RandomCase.of(seed, kinds));
    }

    @Tag("slow")
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("sweep")
    void cpuAgreesWithDjlOnManyRandomShapes(long seed) {
        check(RandomCase.of(seed, Set.of()));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("mamba2Seeds")
    void cpuAgreesWithDjlOnRandomMamba2Shapes(long seed) {
        check(RandomCase.mamba2(seed));
    }

    static LongStream mamba2Seeds() {
        return LongStream.range(0, MAMBA2_CASES);
    }

    /** The cpu model of either family. */
    static HostStateModel cpuModel(ModelSpec w) {
        return switch (w) {
            case MambaWeights m -> new CpuMamba(m);
            case Mamba2Weights m -> new CpuMamba2(m);
            default -> throw new IllegalArgumentException("no cpu model for " + w.describe());
        };
    }

    static void check(RandomCase c) {
        System.out.println(c.description());
        HostStateModel cpu = cpuModel(c.weights());
        try (var djl = DjlMamba.of(c.weights())) {
            assertThat(djl.parameterNames()).containsExactlyElementsOf(c.weights().parameters().keySet());

            // forward from a fresh cache, then two decode steps; the cpu cache then continues on djl
            HostState cpuCache = cpu.newState(c.tokens().length);
            HostState djlCache = djl.newState(c.tokens().length);
            Logits cl = cpu.forward(c.tokens(), c.adapters(), cpuCache);
            Logits dl = djl.forward(c.tokens(), c.adapters(), djlCache);
            assertThat(List.of(cl.batch(), cl.length(), cl.vocab(), cl.virtualTokens()))
                    .isEqualTo(List.of(dl.batch(), dl.length(), dl.vocab(), dl.virtualTokens()));
            abs("logits", cl.values(), dl.values());
            states("states after forward", cpuCache, djlCache);
            assertThat(cpuCache.position()).isEqualTo(djlCache.position()).isEqualTo(dl.length());
            int[] next = new int[c.tokens().length];
            for (int s = 0; s < 2; s++) {
                for (int b = 0; b < next.length; b++) {
                    next[b] = (c.tokens()[b][0] + 3 * s + b) % c.weights().config().vocabSize();
                }
                HostState moved = djl.importState(cpuCache.export());
                float[] cpuStep = cpu.step(next, c.adapters(), cpuCache);
                abs("step logits", cpuStep, djl.step(next, c.adapters(), djlCache));
                abs("step logits, cpu cache on djl", cpuStep, djl.step(next, c.adapters(), moved));
                states("states after steps", cpuCache, djlCache);
            }
            assertThat(cpuCache.position()).isEqualTo(djlCache.position()).isEqualTo(dl.length() + 2);

            List<float[]> ch = cpu.hiddenStates(c.tokens(), c.adapters());
            List<float[]> dh = djl.hiddenStates(c.tokens(), c.adapters());
            assertThat(ch).hasSameSizeAs(dh).hasSize(c.weights().config().layers() + 1);
            for (int i = 0; i < ch.size(); i++) {
                abs("hidden states", ch.get(i), dh.get(i));
            }

            double cpuLoss = cpu.loss(c.tokens(), c.labels(), c.adapters());
            double djlLoss = djl.loss(c.tokens(), c.labels(), c.adapters());
            worst("loss", Math.abs(cpuLoss - djlLoss));
            assertThat(cpuLoss).as("loss").isCloseTo(djlLoss, Offset.offset(ABS_TOL));

            LossAndGradients cg = cpu.lossAndGradients(c.tokens(), c.labels(), c.adapters(), c.trainable());
            LossAndGradients dg = djl.lossAndGradients(c.tokens(), c.labels(), c.adapters(), c.trainable());
            assertThat(cg.targets()).isEqualTo(dg.targets());
            assertThat(cg.loss()).as("loss of the gradient pass").isCloseTo(dg.loss(), Offset.offset(ABS_TOL))
                    .isCloseTo(djlLoss, Offset.offset(ABS_TOL));
            abs("logits of the gradient pass", cg.logits().values(), dg.logits().values());
            assertThat(cg.adapterGradients().keySet()).containsExactlyElementsOf(dg.adapterGradients().keySet());
            dg.adapterGradients().forEach((adapter, grads) -> {
                assertThat(cg.adapterGradients().get(adapter).keySet()).as(adapter)
                        .containsExactlyInAnyOrderElementsOf(grads.keySet());
                grads.forEach((name, g) -> relative("adapter gradients", adapter + "/" + name,
                        cg.adapterGradient(adapter, name), g));
            });
            assertThat(cg.baseGradients().keySet()).containsExactlyElementsOf(dg.baseGradients().keySet())
                    .containsExactlyInAnyOrderElementsOf(c.trainable());
            dg.baseGradients().forEach((name, g) -> relative("base gradients", name, cg.baseGradients().get(name), g));
        }
    }

    /**
     * max |cpu - djl| ≤ {@value #ABS_TOL} · max(1, max |djl|): absolute for values up to 1, relative beyond (SSM states
     * of random models reach 100 and more, where float32 itself resolves only about 1e-5).
     */
    private static void abs(String what, float[] cpu, float[] djl) {
        assertThat(cpu).as(what).hasSameSizeAs(djl);
        double err = Fixtures.maxAbsDiff(cpu, djl);
        double scale = Math.max(1, maxAbs(djl));
        worst(what.startsWith("step") ? "step logits" : what.startsWith("logits") ? "logits" : what, err / scale);
        assertThat(err).as("%s: max abs difference (max |djl| %.3e)", what, maxAbs(djl))
                .isLessThanOrEqualTo(ABS_TOL * scale);
    }

    private static void states(String what, HostState cpu, HostState djl) {
        for (int l = 0; l < cpu.layers(); l++) {
            abs(what + ", conv state of layer " + l, cpu.convState(l), djl.convState(l));
            abs(what + ", ssm state of layer " + l, cpu.ssmState(l), djl.ssmState(l));
            assertThat(cpu.extraStateWidth(l)).as(what + ", extra state width of layer " + l)
                    .isEqualTo(djl.extraStateWidth(l));
            abs(what + ", extra state of layer " + l, cpu.extraState(l), djl.extraState(l));
        }
    }

    /** max |cpu - djl| / max |djl| of one tensor. */
    private static void relative(String kind, String name, Tensor cpu, Tensor djl) {
        assertThat(cpu.shape()).as(name).containsExactly(djl.shape());
        double scale = 0;
        for (float v : djl.data()) {
            scale = Math.max(scale, Math.abs(v));
        }
        double err = Fixtures.maxAbsDiff(cpu.data(), djl.data());
        double rel = scale == 0 ? err : err / scale;
        worst(kind + " (relative)", rel);
        assertThat(rel).as("%s: max |cpu - djl| = %.3e of max |djl| = %.3e", name, err, scale)
                .isLessThanOrEqualTo(GRAD_REL_TOL);
    }

    private static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    private static void worst(String what, double value) {
        String key = what.startsWith("states") ? "states" : what;
        WORST.merge(key, value, Math::max);
    }

}
