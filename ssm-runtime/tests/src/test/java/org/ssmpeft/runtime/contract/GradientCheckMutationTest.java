package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.bitfit.BiasTerm;
import org.ssmpeft.bitfit.BitFitConfig;
import org.ssmpeft.finetune.FullFineTuningConfig;
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.finetune.ModelParameter;
import org.ssmpeft.finetune.PartialFineTuningConfig;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * The power of the numeric contract's gradient check ({@link MethodNumericContract#checkGradientsOf} with
 * {@link MethodNumericContract#gradientProblems}): for every built-in hook kind, the very check the contract runs
 * passes the backend's gradients and fails on the same gradients scaled by 0.95 and with their sign flipped
 * ({@link MutatedGradients}). Hook kinds and what is mutated:
 * <ul>
 *   <li>input at the embedding ({@code prompt}) and per layer ({@code prefix}, plain and MLP-reparameterised);</li>
 *   <li>state:initial ({@code initial-state}), state:offset ({@code state-offset} h), output:offset
 *       ({@code state-offset} y), state:extension ({@code additional-scan}: a', B', C');</li>
 *   <li>projection: {@code lora}, one target at a time (only that target's A and B, every layer), on every target:
 *       the whole projections and the row blocks of in_proj and x_proj, dt_proj included;</li>
 *   <li>parameter deltas: {@code bitfit} (every bias the model has), {@code partial-ft} on A_log alone and on D alone
 *       (the other tensors of the adapter keep their true gradients), {@code full-ft}.</li>
 * </ul>
 * Adapters are random (a zero start has special gradients). The default run is cpu on the first default model; the
 * {@code @Tag("slow")} run adds the second default model and djl. Each run prints the margins: how far the worst
 * passing check stays under its tolerance, and how far the least-caught mutation goes over it.
 */
class GradientCheckMutationTest {

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());
    private static final Map<String, SsmModel> MODELS = new ConcurrentHashMap<>();
    private static final List<String> MARGINS = Collections.synchronizedList(new ArrayList<>());

    /** A method config whose {@code kind} gradients of the parameters matching {@code selected} are mutated. */
    record Mutation(String label, String method, Record config, double std, HookKind kind, String selection,
                    Predicate<String> selected) {
        @Override
        public String toString() {
            return label + " (" + kind + ", " + selection + ")";
        }
    }

    record Case(String backend, ModelCase model, Mutation mutation) {
        @Override
        public String toString() {
            return backend + ", " + mutation + ", " + model.name();
        }
    }

    private static final Predicate<String> ALL = n -> true;

    static List<Mutation> mutations(MambaConfig m) {
        List<Mutation> out = new ArrayList<>();
        out.add(new Mutation("prompt", "prompt", new PromptConfig(3, 0.5), 0.5, HookKind.INPUT, "all", ALL));
        out.add(new Mutation("prefix", "prefix", new PrefixConfig(2, false, 4, 0.5), 0.1, HookKind.INPUT, "all", ALL));
        out.add(new Mutation("prefix with MLP", "prefix", new PrefixConfig(3, true, 5, 0.5), 0.1, HookKind.INPUT,
                "all", ALL));
        out.add(new Mutation("initial-state", "initial-state", new InitialStateConfig(StateInit.KAIMING_UNIFORM), 0.1,
                HookKind.INITIAL_STATE, "all", ALL));
        out.add(new Mutation("state-offset h", "state-offset",
                new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO), 0.1, HookKind.STATE_OFFSET, "all",
                ALL));
        out.add(new Mutation("state-offset y", "state-offset",
                new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO), 0.1, HookKind.OUTPUT_OFFSET, "all",
                ALL));
        out.add(new Mutation("additional-scan", "additional-scan",
                new AdditionalScanConfig(2, AdditionalScanConfig.AInit.LOG_RANGE), 0.1, HookKind.STATE_EXTENSION, "all",
                ALL));
        var whole = List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ,
                Projection.HEAD);
        var blocks = List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_Z, Projection.X_PROJ_DT, Projection.X_PROJ_B,
                Projection.X_PROJ_C);
        for (var targets : List.of(whole, blocks)) {
            var config = targets == whole ? new LoraConfig(2, 4.0, 0.0, whole, true)
                    : new LoraConfig(3, 2.0, 0.0, blocks, false);
            for (Projection t : targets) {
                Pattern p = Pattern.compile("(layers\\.\\d+\\.)?" + Pattern.quote(t.configName()) + "\\.lora_[AB]");
                out.add(new Mutation("lora", "lora", config, 0.1, HookKind.PROJECTION, t.configName() + " only",
                        n -> p.matcher(n).matches()));
            }
        }
        List<BiasTerm> biases = new ArrayList<>(List.of(BiasTerm.CONV1D_BIAS, BiasTerm.DT_PROJ_BIAS, BiasTerm.D));
        if (!m.useConvBias()) {
            biases.remove(BiasTerm.CONV1D_BIAS);
        }
        if (m.useBias()) {
            biases.addAll(List.of(BiasTerm.IN_PROJ_BIAS, BiasTerm.OUT_PROJ_BIAS));
        }
        out.add(new Mutation("bitfit", "bitfit", new BitFitConfig(biases), 0.1, HookKind.PARAMETER, "all", ALL));
        var partial = new PartialFineTuningConfig(List.of(LayerParameter.A_LOG, LayerParameter.D),
                List.of(ModelParameter.EMBEDDINGS_WEIGHT, ModelParameter.NORM_F_WEIGHT));
        out.add(new Mutation("partial-ft", "partial-ft", partial, 0.1, HookKind.PARAMETER, "A_log only",
                n -> n.endsWith("mixer.A_log")));
        out.add(new Mutation("partial-ft", "partial-ft", partial, 0.1, HookKind.PARAMETER, "D only",
                n -> n.endsWith("mixer.D")));
        out.add(new Mutation("full-ft", "full-ft", new FullFineTuningConfig(m.tieWordEmbeddings(), m.useConvBias(),
                m.useBias()), 0.02, HookKind.PARAMETER, "all", ALL));
        return out;
    }

    private static Stream<Case> casesOn(List<String> backends, List<ModelCase> models) {
        List<Case> out = new ArrayList<>();
        for (String b : backends) {
            for (ModelCase m : models) {
                mutations(m.config()).forEach(x -> out.add(new Case(b, m, x)));
            }
        }
        return out.stream();
    }

    static Stream<Case> cases() {
        return casesOn(List.of("cpu"), List.of(RandomModels.defaults().get(0)));
    }

    /** The second default model on cpu, and both on every other available backend. */
    static Stream<Case> moreCases() {
        var backends = MethodNumericContract.backends().stream().filter(b -> !b.equals("cpu")).toList();
        return Stream.concat(casesOn(List.of("cpu"), List.of(RandomModels.defaults().get(1))),
                casesOn(backends, RandomModels.defaults()));
    }

    @AfterAll
    static void closeModelsAndPrintMargins() throws Exception {
        for (SsmModel m : MODELS.values()) {
            if (m instanceof AutoCloseable c) {
                c.close();
            }
        }
        MODELS.clear();
        synchronized (MARGINS) {
            MARGINS.forEach(System.out::println);
        }
    }

    @Test
    void everyBuiltInHookKindHasAMutation() {
        var kinds = mutations(RandomModels.defaults().get(0).config()).stream().map(Mutation::kind).distinct()
                .toList();
        assertThat(kinds).containsExactlyInAnyOrder(HookKind.values());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theContractsGradientCheckPassesTheTrueGradientAndCatchesAScaledOrFlippedOne(Case c) {
        check(c);
    }

    @Tag("slow")
    @ParameterizedTest(name = "{0}")
    @MethodSource("moreCases")
    void onMoreModelsAndBackendsToo(Case c) {
        check(c);
    }

    private static void check(Case c) {
        SsmModel model = MODELS.computeIfAbsent(c.backend() + "/" + c.model().name(),
                k -> Backends.load().get(c.backend()).create(c.model().weights()));
        Mutation x = c.mutation();
        Adapter a = RandomModels.randomize(FACTORY.create(new AdapterConfig("mutated", x.method(), LayerSelection.ALL,
                x.config()), c.model().config().toShape(), AdapterFactory.seeded(5)), x.std(), 5);
        AdapterSet set = new AdapterSet(c.model().config().toShape()).add(a);
        int[] directions = MethodNumericContract.defaultRandomDirections(c.backend(), false);
        double noise = GradientCheck.DEFAULT_LOSS_NOISE;

        var truth = MethodNumericContract.checkGradientsOf(model, c.model(), set, a, directions, noise);
        assertThat(MethodNumericContract.gradientProblems(truth)).as("%s: the true gradients%n%s", c, truth)
                .isEmpty();
        double passing = worstRatio(truth);
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                "MARGIN %-70s true: worst error %.3f of its tolerance", c, passing));
        for (float factor : new float[] {0.95f, -1f}) {
            var wrong = MethodNumericContract.checkGradientsOf(new MutatedGradients(model, x.kind(), x.selected(),
                    factor), c.model(), set, a, directions, noise);
            var failures = wrong.failures(MethodNumericContract.FD_REL);
            assertThat(failures).as("%s: gradients times %s must fail the check%n%s", c, factor, wrong).isNotEmpty();
            assertThat(MethodNumericContract.gradientProblems(wrong)).isNotEmpty();
            line.append(String.format(Locale.ROOT, "; x%.2f: caught by %d checks, worst %.1f times its tolerance",
                    factor, failures.size(), worstRatio(wrong)));
        }
        MARGINS.add(line.toString());
    }

    private static double worstRatio(GradientCheck.DirectionalResult r) {
        return MethodNumericContract.toleranceUsed(r);
    }
}
