package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.spi.PeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.runtime.adapters.AdapterFiles;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.LanguageModelConfig;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.contract.RandomModels.FamilyCase;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * The numeric contract of a PEFT method: what its adapters do to a real model, on every available compute backend
 * ({@link Backends#load()}{@code .available()}: {@code cpu} always, {@code djl} when PyTorch's native library loads).
 * The structural half (discovery, configs, counts, shapes) is peft-api's {@code PeftMethodContract}; a method's tests
 * extend both. This one lives in ssm-runtime's test jar because it needs a backend: a third-party method adds
 * {@code ssm-runtime} and {@code ssm-runtime:test-jar} (and {@code peft-api:test-jar}) with scope test, extends this
 * class, names the method, gives configs and says which of them start as the identity.
 *
 * <p>Per backend, per model ({@link #models()}: small seeded random Mamba-1 models, and {@link #mamba2Models()}:
 * Mamba-2 ones, each where the method declares the family, {@link PeftMethodProvider#families}), per config that
 * validates on the model and {@link #fits} it:
 * <ol>
 *   <li><b>identity start</b>, where {@link #startsAsIdentity(Record)} says so: an adapter at its default init leaves
 *       the logits unchanged bit for bit ({@code ==} per element) against the same model without adapters;</li>
 *   <li><b>gradients</b>: with every parameter randomised (N(0, {@link #randomStd()}²), so zero-initialised ones act
 *       too), the backend's dL/dθ against central finite differences of its own loss along directions
 *       ({@link #checkGradientsOf}, {@link GradientCheck#checkDirections}): over all of the adapter's tensors jointly
 *       and over each tensor, along g/|g| and {@link #randomDirections} Gaussian directions, the difference quotient
 *       must equal ⟨g, v⟩ within {@value #FD_REL} · |g||v| plus the float32 noise floor; the joint check along g
 *       must be able to fail (its tolerance at most {@value #JOINT_RESOLUTION} · |g|), and every tensor gets a
 *       non-zero gradient. Where the backward holds something constant by definition (DoRA's row norms, detached
 *       as in PEFT) the loss differenced holds it too ({@link DetachedNorms}). A sign flip or a 5% scale error of any tensor whose own gradient is above the floor fails;
 *       {@code GradientCheckMutationTest} proves it for every built-in hook kind;</li>
 *   <li><b>save and load</b>: {@link AdapterFiles#save} then {@link AdapterFiles#load} gives the same parameters and
 *       the same logits, bit for bit;</li>
 *   <li><b>two of its adapters add up</b>, where the method can express their sum as one adapter
 *       ({@link #sumOfTwo}): for a method whose hooks are linear in its parameters (offsets, initial states,
 *       parameter deltas) that is the adapter with parameters a + b; LoRA's is the rank-r₁+r₂ adapter
 *       [A₁; A₂], [B₁ B₂]. Logits of the pair and of the sum agree within {@value #SUM_TOL} · max(1, max |logit|):
 *       backends add the two contributions before using them, so the only difference is float rounding of
 *       θ + a + b against θ + (a + b);</li>
 *   <li><b>composition with another hook kind</b> (an output offset y', or a delta on a D for methods that feed the
 *       output offset themselves): both adapters act (the composed logits differ from each alone), both get non-zero
 *       gradients, and every backend computes the composed set as {@code cpu} does (logits within
 *       {@value #CROSS_ABS} · max(1, max |logit|), gradients within {@value #CROSS_REL} relative).</li>
 * </ol>
 * "The sum of both effects" means exactly this: hooks of the same kind add their contributions (h'₁ + h'₂,
 * Δθ₁ + Δθ₂, s·B₁A₁ + s·B₂A₂) before the network uses them, and hooks of different kinds act together; it does
 * <em>not</em> mean that the changes of the logits add, which the non-linear network does not do.
 *
 * <p><b>Fixture</b>: a method whose adapters are {@link ParameterHook}s is checked against the public fixture's
 * full-fine-tuning gradients ({@code mamba-tiny/full-ft-grads.safetensors}, transformers' autograd; for a method
 * that declares Mamba-2 also those of {@code mamba2-groups2-bias-untied} and {@code mamba2-dtclamp}): at Δθ = 0,
 * dL/dΔθ = dL/dθ, within {@value #CROSS_REL} relative. The five adapters of {@code peft-grads.safetensors}
 * (state-offset h and y, initial-state, LoRA, prompt) are checked against it by ssm-runtime's
 * {@code cpu.PeftGradientsFixtureTest} and {@code djl.DjlAdapterFixtureTest}, and by {@code peft parity}.
 *
 * <p>Tolerances: {@value #FD_REL} of |g||v| for the directional checks (see {@link #FD_REL}); cross-backend ones as in
 * {@code DjlCpuParityTest}. No comparison is
 * retried: the djl backend's rare wrong gradient passes had a cause (scalars freed under autograd), now fixed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class MethodNumericContract {

    /**
     * Relative tolerance of the directional gradient checks, against |g||v|, on top of the noise floor. Measured on
     * the default models (every built-in method and config, 975 checks each on cpu and djl): the 801 checks whose
     * step reaches the loss change of {@link GradientCheck#DEFAULT_LOSS_CHANGE} have a floor of 1.4e-3 |g||v| and err
     * by at most 4e-4 |g||v|; no check uses more than 0.17 of its tolerance (0.28 on the slow sweep's 8 shapes).
     * A 5% scale error reads 0.05/0.95 of |g||v| along g/|g|, 8 times the tolerance 5e-3 + 1.4e-3; a sign flip
     * reads 2.
     */
    static final double FD_REL = 5e-3;

    /**
     * The largest tolerance, relative to |g|, that the joint check along g/|g| may have ({@value #FD_REL} plus its
     * floor): at most this, it fails on any scale error of the method's gradient above 2.5% (and so on 5%). Its
     * floor is 1.4e-3 |g| on the default models; the slow sweep has a model (one layer, T = 4) on which an additional
     * scan's whole gradient is 6e-4 of the loss and the floor 5.3e-3 |g|.
     */
    static final double JOINT_RESOLUTION = 0.025;
    static final double SUM_TOL = 1e-5;
    /** In composition each adapter must move the logits by at least this share of its effect alone. */
    static final double BOTH_ACT = 0.1;
    static final double CROSS_ABS = 1e-4;
    static final double CROSS_REL = 1e-3;

    private final Map<String, SsmModel> models = new LinkedHashMap<>();
    private final Map<String, Adapter[]> saved = new LinkedHashMap<>();

    // --- what a method's test says ---

    /** The provider name under test. */
    protected abstract String methodName();

    /** Configs to check (the provider's default is always added first). */
    protected abstract List<Record> configs();

    /**
     * Whether an adapter of {@code config} at its default init leaves the logits unchanged (state-offset,
     * initial-state, LoRA, parameter deltas: yes; prompt and prefix add virtual tokens: no).
     */
    protected abstract boolean startsAsIdentity(Record config);

    /** Whether the method's hooks are linear in its parameters, so that parameters a + b act as a and b together. */
    protected abstract boolean parametersAddUp(Record config);

    /**
     * Whether {@code config} applies to {@code model} (e.g. a head delta needs an untied head), beyond what the
     * provider's own checks ({@link PeftMethodProvider#problems}) refuse; default yes.
     */
    protected boolean fits(Record config, LanguageModelConfig model) {
        return true;
    }

    /** The layers an adapter acts on; default all. */
    protected LayerSelection layers(Record config) {
        return LayerSelection.ALL;
    }

    /** The models of the default run; default {@link RandomModels#defaults()}. */
    protected List<ModelCase> models() {
        return RandomModels.defaults();
    }

    /** The Mamba-2 models of the default run; default {@link RandomModels#mamba2Defaults()}. */
    protected List<FamilyCase> mamba2Models() {
        return RandomModels.mamba2Defaults();
    }

    /** The models of the {@code @Tag("slow")} sweep; default 8 random shapes. */
    protected List<ModelCase> sweepModels() {
        return RandomModels.sweep(8, 77);
    }

    /** Std of the random parameter values of checks (2), (4) and (5). */
    protected double randomStd() {
        return 0.1;
    }

    /**
     * Gaussian directions of the gradient check besides g/|g|, for the joint scope and for each tensor, in the default
     * run and in the slow sweep: {joint, per tensor}. Fewer on backends other than cpu, whose loss costs more (djl's
     * gradients are also held to cpu's by check 5).
     */
    protected int[] randomDirections(String backend, boolean sweep) {
        return defaultRandomDirections(backend, sweep);
    }

    static int[] defaultRandomDirections(String backend, boolean sweep) {
        return backend.equals("cpu") ? (sweep ? new int[] {3, 3} : new int[] {2, 2})
                : (sweep ? new int[] {2, 1} : new int[] {1, 0});
    }

    /**
     * The relative rounding noise of the backend's float32 loss that sets the gradient check's floor
     * ({@link GradientCheck#lossNoise}). Measured here along random directions: at most 1.7e-7 · |L| on cpu (which
     * sums its loss in double), 2.1e-7 · |L| on djl (PyTorch reduces in float32); the default
     * {@link GradientCheck#DEFAULT_LOSS_NOISE} (4.8e-7) covers both.
     */
    protected double finiteDifferenceLossNoise(String backend) {
        return GradientCheck.DEFAULT_LOSS_NOISE;
    }

    /**
     * One adapter that acts as {@code a} and {@code b} together, or empty when the method has none (then check 4
     * skips). Default: for {@link #parametersAddUp} configs, an adapter of the same config with parameters a + b.
     */
    protected Optional<Adapter> sumOfTwo(Record config, Adapter a, Adapter b) {
        if (!parametersAddUp(config)) {
            return Optional.empty();
        }
        Adapter sum = adapter("a-plus-b", config, a.shape(), 0);
        sum.parameters().forEach((name, t) -> {
            float[] x = a.parameter(name).data();
            float[] y = b.parameter(name).data();
            float[] out = t.data();
            for (int i = 0; i < out.length; i++) {
                out[i] = x[i] + y[i];
            }
        });
        sum.refreshDerived();
        return Optional.of(sum);
    }

    // --- cases ---

    /** One check's inputs; its toString is the test name. */
    public record Case(String backend, FamilyCase model, Record config) {
        @Override
        public String toString() {
            return backend + ", " + config + ", " + model.name();
        }
    }

    protected final PeftMethods methods() {
        return PeftMethods.load();
    }

    protected final PeftMethodProvider<?> provider() {
        return methods().forName(methodName());
    }

    private List<Record> allConfigs() {
        List<Record> out = new ArrayList<>();
        out.add(provider().defaultConfig());
        configs().stream().filter(c -> !out.contains(c)).forEach(out::add);
        return out;
    }

    /** The available backends' names; cpu first. */
    protected static List<String> backends() {
        return Backends.load().available().stream().map(BackendProvider::name)
                .sorted(Comparator.comparing((String n) -> !n.equals("cpu")).thenComparing(n -> n)).toList();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private boolean validOn(Record config, org.ssmpeft.api.shape.ModelShape shape) {
        PeftMethodProvider provider = provider();
        return provider.problems(config, shape).isEmpty();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Stream<Case> casesOn(List<FamilyCase> modelCases) {
        List<Case> out = new ArrayList<>();
        PeftMethodProvider provider = provider();
        for (String backend : backends()) {
            Set<org.ssmpeft.api.shape.ModelFamily> implemented = Backends.load().get(backend).families();
            for (FamilyCase m : modelCases) {
                if (!implemented.contains(m.family())) {
                    continue;
                }
                for (Record c : allConfigs()) {
                    if (provider.problems(c, m.config().toShape()).isEmpty() && fits(c, m.config())) {
                        out.add(new Case(backend, m, c));
                    }
                }
            }
        }
        return out.stream();
    }

    private List<FamilyCase> defaultModels() {
        List<FamilyCase> out = new ArrayList<>(models().stream().map(FamilyCase::of).toList());
        out.addAll(mamba2Models());
        return out;
    }

    Stream<Case> cases() {
        return casesOn(defaultModels());
    }

    Stream<Case> sweepCases() {
        return casesOn(sweepModels().stream().map(FamilyCase::of).toList());
    }

    /**
     * Every family the method declares ({@link PeftMethodProvider#families}) has cases on cpu: some config validates
     * on and fits some default model of that family. Fails when a method claims a family its contract never runs on.
     */
    @Test
    void everySupportedFamilyHasCases() {
        var onCpu = cases().filter(c -> c.backend().equals("cpu")).map(c -> c.model().family()).distinct().toList();
        assertThat(onCpu).as("families with cases on cpu for %s", methodName())
                .containsAll(provider().families());
    }

    @AfterAll
    void closeModels() throws Exception {
        for (SsmModel m : models.values()) {
            if (m instanceof AutoCloseable c) {
                c.close();
            }
        }
        models.clear();
    }

    protected final SsmModel model(String backend, String key, ModelSpec weights) {
        return models.computeIfAbsent(backend + "/" + key, k -> Backends.load().get(backend).create(weights));
    }

    private SsmModel model(Case c) {
        return model(c.backend(), c.model().name(), c.model().weights());
    }

    /** An adapter of the method made through the installed provider, initialised from {@code seed}. */
    protected final Adapter adapter(String name, Record config, org.ssmpeft.api.shape.ModelShape shape, long seed) {
        return new AdapterFactory(methods()).create(new AdapterConfig(name, methodName(), layers(config), config),
                shape, AdapterFactory.seeded(seed));
    }

    private Adapter randomAdapter(String name, Case c, long seed) {
        return RandomModels.randomize(adapter(name, c.config(), c.model().weights().config().toShape(), seed),
                randomStd(), seed);
    }

    private static AdapterSet setOf(FamilyCase m, Adapter... adapters) {
        AdapterSet set = new AdapterSet(m.config().toShape());
        for (Adapter a : adapters) {
            set.add(a);
        }
        return set;
    }

    // --- the checks ---

    @Test
    void atLeastTheCpuBackendRuns() {
        assertThat(backends()).contains("cpu");
        System.out.println(methodName() + ": numeric contract on backends " + backends());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void anAdapterAtItsDefaultInitLeavesTheLogitsUnchanged(Case c) {
        assumeTrue(startsAsIdentity(c.config()), () -> methodName() + " " + c.config()
                + " does not start as the identity (declared by the test)");
        SsmModel model = model(c);
        Adapter a = adapter("init", c.config(), model.shape(), 3);
        float[] base = model.forward(c.model().tokens(), model.noAdapters()).values();
        float[] adapted = model.forward(c.model().tokens(), setOf(c.model(), a)).values();
        assertBitwise("logits with " + a + " at its init against the base model", adapted, base);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferences(Case c) {
        checkGradients(c, false);
    }

    @Tag("slow")
    @ParameterizedTest(name = "{0}")
    @MethodSource("sweepCases")
    void gradientsMatchFiniteDifferencesOnMoreShapes(Case c) {
        checkGradients(c, true);
    }

    private void checkGradients(Case c, boolean sweep) {
        SsmModel model = model(c);
        Adapter a = randomAdapter("fd", c, 5);
        AdapterSet set = setOf(c.model(), a);
        GradientCheck.DirectionalResult r = checkGradientsOf(model, c.model().tokens(), c.model().labels(), set, a,
                randomDirections(c.backend(), sweep), finiteDifferenceLossNoise(c.backend()));
        System.out.println(c + ": " + summary(r));
        List<String> problems = gradientProblems(r);
        assertThat(problems).as("%s: gradient check%n%s", c, r).isEmpty();
    }

    /**
     * The contract's gradient check of adapter {@code a} (acting in {@code set}) on {@code model}: the backend's
     * gradients against directional central differences of its loss on the batch of {@code m}, every tensor non-zero
     * (asserted here). {@link #gradientProblems} says whether it passes; {@code GradientCheckMutationTest} runs the
     * very same check on deliberately wrong gradients.
     *
     * <p>Tensors whose own gradient is too small for float32 differences (dL/da' of an additional scan, dL/dΔW of a
     * LoRA on the last layer's dt_proj: 1e-4 of the joint |g|) take the largest step and still have a floor of up to
     * 0.3 |g||v| on the default models (93 of 975 checks there have a floor above {@value #FD_REL} |g||v|): they are
     * checked against that floor, which still catches a sign flip (an error of 2), and are listed as below the floor
     * in the printed summary. The joint check along g must see scale errors above {@value #JOINT_RESOLUTION}
     * ({@link #JOINT_RESOLUTION}).
     */
    static GradientCheck.DirectionalResult checkGradientsOf(SsmModel model, ModelCase m, AdapterSet set, Adapter a,
                                                            int[] randomDirections, double lossNoise) {
        return checkGradientsOf(model, m.tokens(), m.labels(), set, a, randomDirections, lossNoise);
    }

    static GradientCheck.DirectionalResult checkGradientsOf(SsmModel model, int[][] tokens, int[][] labels,
                                                                    AdapterSet set, Adapter a, int[] randomDirections,
                                                                    double lossNoise) {
        LossAndGradients g = model.lossAndGradients(tokens, labels, set, Set.of());
        Map<String, Tensor> analytic = g.adapterGradients().get(a.name());
        assertThat(analytic).as("gradients of %s", a.name()).isNotNull();
        analytic.forEach((n, t) -> assertThat(maxAbs(t.data())).as("%s: dL/d%s is not all zero", a.name(), n)
                .isGreaterThan(0));
        return GradientCheck.of(DetachedNorms.lossWithNormsHeld(model, tokens, labels, set))
                .randomDirections(randomDirections[0], randomDirections[1], 7).lossNoise(lossNoise)
                .checkDirections(a.parameters(), analytic);
    }

    /**
     * What fails in a result of {@link #checkGradientsOf}: every check off by more than {@value #FD_REL} · |g||v| plus
     * its floor, and a joint check along g whose tolerance exceeds {@value #JOINT_RESOLUTION} |g|. Empty when the
     * gradients pass.
     */
    static List<String> gradientProblems(GradientCheck.DirectionalResult r) {
        List<String> out = new ArrayList<>();
        Optional<GradientCheck.Directional> joint = r.checks().stream()
                .filter(d -> d.scope().equals(GradientCheck.ALL) && d.direction().equals(GradientCheck.ALONG_GRADIENT))
                .findFirst();
        if (joint.isEmpty()) {
            out.add("no joint check along g (the gradient is all zero)");
        } else if (FD_REL * joint.get().scale() + joint.get().noiseFloor() > JOINT_RESOLUTION * joint.get().scale()) {
            out.add("the joint check along g cannot see a scale error of " + JOINT_RESOLUTION + ": " + joint.get());
        }
        r.failures(FD_REL).forEach(d -> out.add("off by more than " + FD_REL + " |g||v| + floor: " + d));
        return out;
    }

    /**
     * One line: the joint check along g, the largest share of its tolerance that any check uses, the worst relative
     * error of the checks that resolve {@value #FD_REL}, and the tensors whose check along g does not.
     */
    static String summary(GradientCheck.DirectionalResult r) {
        var unresolved = r.unresolved(FD_REL).stream().filter(d -> d.direction().equals(GradientCheck.ALONG_GRADIENT))
                .map(d -> String.format(Locale.ROOT, "%s (floor %.2g |g|)", d.scope(), d.noiseFloor() / d.scale()))
                .toList();
        var joint = r.checks().get(0);
        return String.format(Locale.ROOT, "%d directional checks; %s: FD %.6e, <g,v> %.6e, rel %.1e; worst check at"
                        + " %.3f of its tolerance; worst resolved rel %.1e (tolerance %.0e + floor); below the floor:"
                        + " %s", r.checks().size(), joint.name(), joint.numeric(), joint.analytic(),
                joint.relativeError(), toleranceUsed(r), r.maxRelativeError(FD_REL), FD_REL,
                unresolved.isEmpty() ? "none" : String.join(", ", unresolved));
    }

    /** max over checks of |FD − ⟨g,v⟩| / ({@value #FD_REL} |g||v| + floor): a result passes when it is at most 1. */
    static double toleranceUsed(GradientCheck.DirectionalResult r) {
        return r.checks().stream().mapToDouble(d -> d.error() / (FD_REL * d.scale() + d.noiseFloor())).max()
                .orElse(0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void saveThenLoadGivesTheSameLogitsBitForBit(Case c) throws Exception {
        SsmModel model = model(c);
        Adapter[] savedAndLoaded = saved.get(c.model().name() + "/" + c.config());
        if (savedAndLoaded == null) { // saved and loaded once per model and config, then run on every backend
            Adapter a = randomAdapter("saved", c, 9);
            Path dir = Files.createTempDirectory("numeric-contract");
            try {
                AdapterFiles.save(a, dir);
                Adapter loaded = AdapterFiles.load(dir, model.shape(), new AdapterFactory(methods()));
                assertThat(loaded.method()).isEqualTo(methodName());
                assertThat(loaded.config()).isEqualTo(a.config());
                assertThat(loaded.parameters().keySet()).containsExactlyElementsOf(a.parameters().keySet());
                a.parameters().forEach((n, t) -> assertThat(loaded.parameter(n).data()).as(n).isEqualTo(t.data()));
                savedAndLoaded = new Adapter[] {a, loaded};
                saved.put(c.model().name() + "/" + c.config(), savedAndLoaded);
            } finally {
                deleteRecursively(dir);
            }
        }
        assertBitwise("logits after save and load", model.forward(c.model().tokens(),
                setOf(c.model(), savedAndLoaded[1])).values(), model.forward(c.model().tokens(),
                setOf(c.model(), savedAndLoaded[0])).values());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void twoAdaptersActAsOneWithTheSumOfTheirContributions(Case c) {
        Adapter a = randomAdapter("first", c, 11);
        Adapter b = randomAdapter("second", c, 12);
        Optional<Adapter> sum = sumOfTwo(c.config(), a, b);
        assumeTrue(sum.isPresent(), () -> methodName() + " " + c.config() + " has no single adapter that acts as two"
                + " (declared by the test)");
        SsmModel model = model(c);
        AdapterSet pair;
        try {
            pair = setOf(c.model(), a, b);
        } catch (IllegalStateException refused) {
            throw new AssertionError(methodName() + " declares a single adapter acting as two, but two of its adapters"
                    + " do not compose: " + refused.getMessage(), refused);
        }
        float[] both = model.forward(c.model().tokens(), pair).values();
        float[] one = model.forward(c.model().tokens(), setOf(c.model(), sum.get())).values();
        double scale = Math.max(1, maxAbs(both));
        double err = maxAbsDiff(both, one);
        assertThat(err).as("%s: logits of two adapters against their sum (max |logit| %.3e)", c, maxAbs(both))
                .isLessThanOrEqualTo(SUM_TOL * scale);
        assertThat(maxAbsDiff(both, model.forward(c.model().tokens(), setOf(c.model(), a)).values()))
                .as("%s: the second adapter acts", c).isGreaterThan(0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void composedWithAnotherHookKindBothActAndEveryBackendAgreesWithCpu(Case c) {
        SsmModel model = model(c);
        var shape = model.shape();
        Adapter a = randomAdapter("method", c, 13);
        Adapter partner = Partners.forMethodFeeding(a.hooks(), shape, 14);
        int[][] tokens = c.model().tokens();
        int[][] labels = c.model().labels();
        AdapterSet composed = setOf(c.model(), a, partner);

        // "both act", relative to each adapter's own effect: composed, each adapter still moves the logits of the
        // real tokens by at least BOTH_ACT of what it moves them alone (a hook dropped or masked in composition
        // gives ~0); virtual-token positions are left out so prompts compare with the rest
        float[] both = tokensOnly(model.forward(tokens, composed));
        float[] base = tokensOnly(model.forward(tokens, model.noAdapters()));
        float[] onlyA = tokensOnly(model.forward(tokens, setOf(c.model(), a)));
        float[] onlyPartner = tokensOnly(model.forward(tokens, setOf(c.model(), partner)));
        assertThat(maxAbsDiff(both, onlyA)).as("%s: the partner %s acts in composition", c, partner)
                .isGreaterThanOrEqualTo(BOTH_ACT * maxAbsDiff(onlyPartner, base)).isGreaterThan(0);
        assertThat(maxAbsDiff(both, onlyPartner)).as("%s: the method's adapter acts in composition", c)
                .isGreaterThanOrEqualTo(BOTH_ACT * maxAbsDiff(onlyA, base)).isGreaterThan(0);

        Supplier<LossAndGradients> gradients = () -> model.lossAndGradients(tokens, labels, composed, Set.of());
        LossAndGradients g = gradients.get();
        for (Adapter x : List.of(a, partner)) {
            g.adapterGradients().get(x.name()).forEach((n, t) -> assertThat(maxAbs(t.data()))
                    .as("%s: dL/d%s of %s", c, n, x.name()).isGreaterThan(0));
        }
        if (c.backend().equals("cpu")) {
            return;
        }
        SsmModel cpu = model("cpu", c.model().name(), c.model().weights());
        float[] reference = tokensOnly(cpu.forward(tokens, composed));
        assertThat(maxAbsDiff(both, reference)).as("%s: composed logits against cpu", c)
                .isLessThanOrEqualTo(CROSS_ABS * Math.max(1, maxAbs(reference)));
        LossAndGradients expected = cpu.lossAndGradients(tokens, labels, composed, Set.of());
        LossAndGradients actual = gradients.get();
        assertThat(worstRelative(actual, expected)).as("%s: composed gradients against cpu, worst relative", c)
                .isLessThanOrEqualTo(CROSS_REL);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("fixtureBackends")
    void parameterDeltaGradientsMatchTheFixturesFullFineTuningGradients(String backend, String fixture)
            throws Exception {
        Path dir = FixtureFiles.folder(fixture);
        org.ssmpeft.runtime.checkpoint.LanguageModelWeights<?> weights = fixture.startsWith("mamba2")
                ? org.ssmpeft.runtime.checkpoint.Mamba2Checkpoint.load(dir) : MambaCheckpoint.load(dir);
        SsmModel model = model(backend, "fixture " + fixture, weights);
        int[][] tokens;
        try (var ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            tokens = FixtureFiles.inputIds(ref);
        }
        int checked = 0;
        try (var ft = SafetensorsFile.open(dir.resolve("full-ft-grads.safetensors"))) {
            for (Record config : allConfigs()) {
                if (!validOn(config, model.shape()) || !fits(config, weights.config())) {
                    continue;
                }
                Adapter a = adapter("fixture", config, model.shape(), 1);
                assumeTrue(a instanceof ParameterHook, () -> methodName() + " is not a parameter hook; its fixture"
                        + " gradients, if any, are checked by PeftGradientsFixtureTest and DjlAdapterFixtureTest");
                assumeTrue(a.parameters().values().stream().allMatch(Tensor::isZero), "deltas start at zero");
                var hook = (ParameterHook) a;
                AdapterSet set = new AdapterSet(model.shape()).add(a);
                Supplier<LossAndGradients> run = () -> model.lossAndGradients(tokens, tokens, set, Set.of());
                LossAndGradients g = run.get();
                double worst = worstAgainstFixture(g, a, hook, ft);
                System.out.printf(Locale.ROOT, "%s %s on %s, %s: %d deltas against full-ft-grads, worst relative %.3e%n",
                        methodName(), config, backend, fixture, hook.parameterDeltaNames().size(), worst);
                assertThat(worst).as("%s: dL/dΔθ against the fixture's dL/dθ", config).isLessThanOrEqualTo(CROSS_REL);
                checked++;
            }
        }
        assumeTrue(checked > 0, "no config fits the fixture model (tied head, conv bias, no linear bias)");
    }

    /**
     * (backend, fixture folder): mamba-tiny, and the two PyTorch-made Mamba-2 folders (G 2 with biases and an untied
     * head; a binding dt clamp) for a method that declares Mamba-2, on every backend that implements the family.
     */
    Stream<org.junit.jupiter.params.provider.Arguments> fixtureBackends() {
        List<org.junit.jupiter.params.provider.Arguments> out = new ArrayList<>();
        for (String backend : backends()) {
            out.add(org.junit.jupiter.params.provider.Arguments.of(backend, "mamba-tiny"));
            if (provider().families().contains(org.ssmpeft.api.shape.ModelFamily.MAMBA2)
                    && Backends.load().get(backend).families().contains(org.ssmpeft.api.shape.ModelFamily.MAMBA2)) {
                for (String f : List.of("mamba2-groups2-bias-untied", "mamba2-dtclamp")) {
                    out.add(org.junit.jupiter.params.provider.Arguments.of(backend, f));
                }
            }
        }
        return out.stream();
    }

    private static double worstAgainstFixture(LossAndGradients g, Adapter a, ParameterHook hook, SafetensorsFile ft) {
        double worst = 0;
        for (String base : hook.parameterDeltaNames()) {
            String parameter = a.parameters().entrySet().stream()
                    .filter(e -> e.getValue() == hook.parameterDelta(base).orElseThrow()).findFirst().orElseThrow()
                    .getKey();
            float[] expected;
            try {
                expected = ft.readFloats(base + ".grad");
            } catch (org.ssmpeft.runtime.safetensors.SafetensorsException | RuntimeException e) {
                throw new AssertionError("the fixture has no gradient for " + base, e);
            }
            worst = Math.max(worst, relative(g.adapterGradient(a.name(), parameter).data(), expected));
        }
        return worst;
    }

    // --- helpers ---

    private static double worstRelative(LossAndGradients actual, LossAndGradients expected) {
        double worst = 0;
        for (var e : expected.adapterGradients().entrySet()) {
            for (var p : e.getValue().entrySet()) {
                worst = Math.max(worst, relative(actual.adapterGradient(e.getKey(), p.getKey()).data(),
                        p.getValue().data()));
            }
        }
        return worst;
    }

    /** max |a - e| / max |e| (the absolute error when e is all zero). */
    static double relative(float[] actual, float[] expected) {
        double scale = maxAbs(expected);
        double err = maxAbsDiff(actual, expected);
        return scale == 0 ? err : err / scale;
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /** The logits of the real tokens only, (B, T, V): an acting prompt's virtual positions dropped. */
    private static float[] tokensOnly(Logits l) {
        int t = l.length() - l.virtualTokens();
        float[] out = new float[l.batch() * t * l.vocab()];
        for (int b = 0; b < l.batch(); b++) {
            System.arraycopy(l.values(), (b * l.length() + l.virtualTokens()) * l.vocab(), out, b * t * l.vocab(),
                    t * l.vocab());
        }
        return out;
    }

    /** Equal element by element ({@code ==}, so 0.0 equals -0.0); names the first difference. */
    static void assertBitwise(String what, float[] actual, float[] expected) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] != expected[i] && !(Float.isNaN(actual[i]) && Float.isNaN(expected[i]))) {
                throw new AssertionError(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]
                        + " (max |difference| " + maxAbsDiff(actual, expected) + ")");
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** The public fixture, from the test resources; copied out of a jar when the test jar is a dependency. */
    static final class FixtureFiles {
        private static final List<String> FILES = List.of("config.json", "model.safetensors", "reference.safetensors",
                "full-ft-grads.safetensors");

        private FixtureFiles() {
        }

        private static final Map<String, Path> COPIED = new java.util.HashMap<>();

        static Path mambaTiny() {
            return folder("mamba-tiny");
        }

        /** A fixture folder of the test resources (config, weights, reference, full-ft gradients). */
        static synchronized Path folder(String name) {
            var url = MethodNumericContract.class.getResource("/fixtures/" + name + "/config.json");
            if (url == null) {
                throw new IllegalStateException("test resource fixtures/" + name + "/config.json is missing");
            }
            try {
                if (url.getProtocol().equals("file")) {
                    return Path.of(url.toURI()).getParent();
                }
                Path copied = COPIED.get(name);
                if (copied == null) {
                    copied = Files.createTempDirectory(name);
                    for (String f : FILES) {
                        try (InputStream in = MethodNumericContract.class.getResourceAsStream(
                                "/fixtures/" + name + "/" + f)) {
                            Files.copy(in, copied.resolve(f));
                        }
                    }
                    COPIED.put(name, copied);
                }
                return copied;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }

        static int[][] inputIds(SafetensorsFile reference) throws Exception {
            long[] ids = reference.readLongs("input_ids");
            long[] shape = reference.info("input_ids").shape();
            int[][] tokens = new int[(int) shape[0]][(int) shape[1]];
            for (int b = 0; b < tokens.length; b++) {
                for (int t = 0; t < tokens[b].length; t++) {
                    tokens[b][t] = Math.toIntExact(ids[b * tokens[b].length + t]);
                }
            }
            return tokens;
        }
    }
}
