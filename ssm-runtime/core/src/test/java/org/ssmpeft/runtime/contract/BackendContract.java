package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.TopTokens;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.contract.RandomModels.FamilyCase;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.parity.FixtureParity;
import org.ssmpeft.runtime.parity.ParityLine;

/**
 * What every compute backend must do, checked by inheritance (Lucene's {@code BasePostingsFormatTestCase}): a
 * backend's test class is {@code class MyBackendTest extends BackendContract} naming the backend, and gets
 * <ol>
 *   <li>fixture parity on every Mamba-1 fixture folder of the test resources (transformers' logits, step logits,
 *       final states, hidden states, loss, each fixture adapter's logits and gradients, full fine-tuning
 *       gradients), at {@link ParityLine.Tolerance#VALUES} and {@link ParityLine.Tolerance#GRADIENTS};</li>
 *   <li>decode == forward for every built-in hook kind (on the Mamba-1 random models, and on the Mamba-2 ones of
 *       {@link #mamba2Models()} with {@link #MAMBA2_HOOK_KINDS} when the backend implements Mamba-2): a fresh state fed token by token gives the full forward's
 *       logits and final state ({@value #SAME_ABS} absolute, times max(1, |value|));</li>
 *   <li>chunked prefill == one prefill;</li>
 *   <li>the model's {@link SsmModel#decoder} ranks what its forward and step give ({@link TopTokens#of} on the
 *       host): the same ids, log-probabilities within {@value #SAME_ABS}, through a reorder, changing exclusions
 *       and a changing n;</li>
 *   <li>state export and import, to and from cpu; reorder, repeat and fork on the backend's own state;</li>
 *   <li>every hook kind's loss, logits and adapter gradients equal cpu's on random models with random adapter values
 *       (logits {@value #SAME_ABS}, gradients {@value #GRAD_REL} of the tensor's max |value|), and pass the
 *       gradient check of {@link GradientChecks};</li>
 *   <li>mixed-adapter batches (each row its own stack: state hooks, prefixes of two lengths, LoRA, DoRA, prompts,
 *       state extensions): every row's logits, decode step and state are the row's alone (bit for bit where
 *       {@link #mixedBatchesExact()}), and the mixed decoder ranks what each row's own decoder ranks;</li>
 *   <li>concurrent calls with distinct states give what the same calls give one after another;</li>
 *   <li>the refusal messages: a state of another backend, an exported state not imported, a wrong batch, tokens
 *       outside the vocabulary, wrong labels, unknown base names, an adapter set of another shape, a family the
 *       backend does not implement, a sequence continued under other state extensions.</li>
 * </ol>
 * When the backend is unavailable the class is skipped through an assumption, except under {@code CI=true} for a
 * backend whose {@link #requiredInCi()} is true (cpu, djl): then it fails, so CI never silently drops a backend.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendContract {

    /** Same-computation tolerance (absolute, times max(1, max |value|)): float32 with another summation order. */
    public static final double SAME_ABS = 1e-5;
    /** Gradients against cpu: max |difference| / max |value| of each tensor. */
    public static final double GRAD_REL = 1e-4;

    private BackendProvider provider;
    private final Map<FamilyCase, SsmModel> models = new LinkedHashMap<>();
    private final Map<FamilyCase, SsmModel> cpuModels = new LinkedHashMap<>();
    private final AdapterFactory factory = new AdapterFactory(PeftMethods.load());

    /** The backend under test, by its provider's name. */
    protected abstract String backend();

    /**
     * Whether CI must run this backend (its library ships with the build): then an unavailable backend under
     * {@code CI=true} fails the build instead of skipping. A GPU backend returns false: CI machines have no GPU.
     */
    protected boolean requiredInCi() {
        return true;
    }

    /** The random models of the hook-kind checks; default {@link RandomModels#defaults()}. */
    protected List<ModelCase> randomModels() {
        return RandomModels.defaults();
    }

    /** The Mamba-2 random models of the hook-kind checks; default {@link RandomModels#mamba2Defaults()}. */
    protected List<FamilyCase> mamba2Models() {
        return RandomModels.mamba2Defaults();
    }

    @BeforeAll
    void requireBackend() {
        provider = Backends.load().get(backend());
        Optional<String> why = provider.unavailableReason();
        if (why.isPresent() && requiredInCi() && "true".equals(System.getenv("CI"))) {
            fail("backend '" + backend() + "' must run under CI=true but is unavailable: " + why.get());
        }
        assumeTrue(why.isEmpty(), () -> "backend '" + backend() + "' is unavailable here: " + why.orElse(""));
    }

    @AfterAll
    void closeModels() throws Exception {
        for (SsmModel m : models.values()) {
            if (m instanceof AutoCloseable c) {
                c.close();
            }
        }
    }

    /** The model of {@code spec} on the backend under test. */
    protected SsmModel create(ModelSpec spec) {
        return provider.create(spec);
    }

    private SsmModel model(FamilyCase c) {
        return models.computeIfAbsent(c, k -> create(k.weights()));
    }

    private SsmModel model(ModelCase c) {
        return model(FamilyCase.of(c));
    }

    private SsmModel cpu(FamilyCase c) {
        return cpuModels.computeIfAbsent(c, k -> Backends.forName(Backends.CPU).create(k.weights()));
    }

    private SsmModel cpu(ModelCase c) {
        return cpu(FamilyCase.of(c));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 1. fixtures

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mamba-tiny", "mamba-bias-untied", "mamba-noconvbias-k2", "mamba2-tiny",
            "mamba2-groups2-bias-untied", "mamba2-dtclamp"})
    void matchesEveryFixtureFolder(String fixture) throws Exception {
        Path dir = Fixtures.folder(fixture);
        ModelSpec spec = Checkpoints.load(dir);
        assumeTrue(provider.families().contains(spec.family()), () -> "backend '" + backend() + "' does not"
                + " implement " + spec.family() + " (its families: " + provider.families() + ")");
        SsmModel model = create(spec);
        try {
            List<ParityLine> lines = new FixtureParity(model, dir, factory, Optional.empty()).run();
            lines.forEach(l -> System.out.println(backend() + " " + fixture + ": " + l));
            assertThat(lines).as("checks of %s", fixture).isNotEmpty();
            assertThat(lines).filteredOn(l -> l.verdict() != ParityLine.Verdict.PASS).as("%s on %s", fixture,
                    backend()).isEmpty();
        } finally {
            if (model instanceof AutoCloseable c) {
                c.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 2-3. decoding

    /** A built-in hook kind and the adapter config that feeds it (default values, randomised parameters). */
    public record HookCase(String kind, String yaml, FamilyCase model) {
        public HookCase(String kind, String yaml, ModelCase model) {
            this(kind, yaml, FamilyCase.of(model));
        }

        @Override
        public String toString() {
            return kind + ", " + model.name();
        }
    }

    /** One adapter config per built-in hook kind. */
    public static final Map<String, String> HOOK_KINDS = Map.of(
            "input at the embedding (prompt)", "method: prompt\nnum_virtual_tokens: 3\n",
            "input per layer (prefix)", "method: prefix\nnum_virtual_tokens: 2\n",
            "state: initial (initial-state)", "method: initial-state\n",
            "state: offset (state-offset h)", "method: state-offset\nvariant: h\n",
            "output: offset (state-offset y)", "method: state-offset\nvariant: y\n",
            "state: extension (additional-scan)", "method: additional-scan\n",
            "projection (lora, every target)", "method: lora\nrank: 2\ntargets: [in_proj, x_proj, dt_proj, out_proj]\n",
            "parameter (partial-ft A_log, D)", "method: partial-ft\n",
            "parameter (bitfit)", "method: bitfit\n");

    /**
     * The hook kinds on Mamba-2: the same methods with Mamba-2's LoRA targets (in_proj's z, x, B, C, dt blocks,
     * out_proj, the head), parameter deltas that exist on both random Mamba-2 models (one has no conv bias), and
     * additional-scan with its per-head extension.
     */
    public static final Map<String, String> MAMBA2_HOOK_KINDS = Map.of(
            "input at the embedding (prompt)", "method: prompt\nnum_virtual_tokens: 3\n",
            "input per layer (prefix)", "method: prefix\nnum_virtual_tokens: 2\n",
            "state: initial (initial-state)", "method: initial-state\n",
            "state: offset (state-offset h)", "method: state-offset\nvariant: h\n",
            "output: offset (state-offset y)", "method: state-offset\nvariant: y\n",
            "state: extension (additional-scan per head)", "method: additional-scan\nn_extra: 2\na_init: log-range\n",
            "projection (lora, in_proj blocks)", "method: lora\nrank: 2\ntargets: [in_proj.z, in_proj.x, in_proj.B,"
                    + " in_proj.C, in_proj.dt, out_proj, head]\n",
            "parameter (partial-ft A_log, D, dt_bias)", "method: partial-ft\nlayer_parameters: [A_log, D, dt_bias]\n",
            "parameter (bitfit dt_bias, D)", "method: bitfit\nbiases: [dt_proj.bias, D]\n");

    Stream<HookCase> hookCases() {
        List<HookCase> out = new ArrayList<>();
        for (ModelCase m : randomModels()) {
            HOOK_KINDS.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> out.add(new HookCase(e.getKey(), e.getValue(), m)));
        }
        if (provider.families().contains(ModelFamily.MAMBA2)) {
            for (FamilyCase m : mamba2Models()) {
                MAMBA2_HOOK_KINDS.entrySet().stream().sorted(Map.Entry.comparingByKey())
                        .forEach(e -> out.add(new HookCase(e.getKey(), e.getValue(), m)));
            }
        }
        return out.stream();
    }

    /** An adapter of {@code c} on its model, every parameter random (so zero-initialised ones act). */
    protected Adapter adapter(HookCase c, String name, long seed) {
        AdapterConfig parsed = factory.reader().parse(c.yaml(), ConfigFormat.YAML).getFirst();
        Adapter a = factory.create(new AdapterConfig(name, parsed.method(), parsed.layers(), parsed.config()),
                c.model().weights().shape(), AdapterFactory.seeded(seed));
        return RandomModels.randomize(a, 0.1, seed);
    }

    private AdapterSet set(ModelCase m, Adapter... adapters) {
        return set(FamilyCase.of(m), adapters);
    }

    private AdapterSet set(FamilyCase m, Adapter... adapters) {
        AdapterSet s = new AdapterSet(m.weights().shape());
        for (Adapter a : adapters) {
            s.add(a);
        }
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void decodingAFreshStateTokenByTokenGivesTheFullForward(HookCase c) {
        SsmModel model = model(c.model());
        AdapterSet set = set(c.model(), adapter(c, "a", 3));
        int[][] tokens = c.model().tokens();
        int batch = tokens.length;
        int len = tokens[0].length;
        try (SsmState whole = model.newState(batch); SsmState stepped = model.newState(batch)) {
            Logits full = model.forward(tokens, set, whole);
            int p = full.virtualTokens();
            for (int t = 0; t < len; t++) {
                int[] column = column(tokens, t);
                float[] step = model.step(column, set, stepped);
                for (int b = 0; b < batch; b++) {
                    close("step logits at " + t + ", row " + b, step, b * full.vocab(), full.at(b, p + t));
                }
            }
            assertThat(stepped.position()).isEqualTo(whole.position()).isEqualTo(len + p);
            sameStates("after decoding", stepped.export(), whole.export());
        }
    }

    /**
     * The model's decoder (on cuda: ranked on the device, each step a replayed recording) gives what its forward and
     * step give, ranked on the host: a prefill of half the tokens, then a step per token, with a reorder of the rows
     * in between (beam search's), the exclusions changing (the mask the device holds) and n changing (a new
     * recording); excluded ids never come back.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void aDecoderRanksWhatTheModelsForwardAndStepGive(HookCase c) {
        SsmModel model = model(c.model());
        AdapterSet set = set(c.model(), adapter(c, "a", 5));
        int[][] tokens = c.model().tokens();
        int batch = tokens.length;
        int len = tokens[0].length;
        int vocab = model.shape().vocab();
        int split = Math.max(1, len / 2);
        int[] reversed = new int[batch];
        for (int b = 0; b < batch; b++) {
            reversed[b] = batch - 1 - b;
        }
        try (SsmState viaModel = model.newState(batch); SsmState viaDecoder = model.newState(batch);
             var decoder = model.decoder(set, viaDecoder)) {
            int[] none = {};
            Logits l = model.forward(columns(tokens, 0, split), set, viaModel);
            sameTop("prefill", decoder.prefill(columns(tokens, 0, split), 3, none),
                    TopTokens.of(l.last(), batch, vocab, 3, none), none);
            for (int t = split; t < len; t++) {
                int[] column = column(tokens, t);
                int n = t < split + 2 ? 1 : 3;
                int[] excluded = t % 2 == 0 ? none : new int[] {column[0], (column[0] + 1) % vocab};
                if (t == split + 1) {
                    viaModel.reorder(reversed);
                    viaDecoder.reorder(reversed);
                }
                TopTokens expected = TopTokens.of(model.step(column, set, viaModel), batch, vocab, n, excluded);
                sameTop("step " + t, decoder.step(column, n, excluded), expected, excluded);
            }
            assertThat(viaDecoder.position()).isEqualTo(viaModel.position());
            sameStates("after decoding", viaDecoder.export(), viaModel.export());
        }
    }

    private static void sameTop(String what, TopTokens actual, TopTokens expected, int[] excluded) {
        assertThat(actual.rows()).as("%s: rows", what).isEqualTo(expected.rows());
        assertThat(actual.n()).as("%s: n", what).isEqualTo(expected.n());
        assertThat(actual.ids()).as("%s: token ids", what).containsExactly(expected.ids());
        for (int e : excluded) {
            assertThat(actual.ids()).as("%s: excluded ids", what).doesNotContain(e);
        }
        for (int i = 0; i < expected.logProbs().length; i++) {
            assertThat(actual.logProbs()[i]).as("%s: log p %d", what, i)
                    .isCloseTo(expected.logProbs()[i], org.assertj.core.data.Offset.offset(
                            SAME_ABS * Math.max(1, Math.abs(expected.logProbs()[i]))));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void aPrefillInTwoChunksGivesTheLogitsAndStateOfOne(HookCase c) {
        SsmModel model = model(c.model());
        AdapterSet set = set(c.model(), adapter(c, "a", 4));
        int[][] tokens = c.model().tokens();
        int split = tokens[0].length / 2;
        try (SsmState one = model.newState(tokens.length); SsmState two = model.newState(tokens.length)) {
            Logits full = model.forward(tokens, set, one);
            model.forward(columns(tokens, 0, split), set, two);
            Logits rest = model.forward(columns(tokens, split, tokens[0].length), set, two);
            int p = full.virtualTokens();
            for (int b = 0; b < tokens.length; b++) {
                for (int t = 0; t < rest.length(); t++) {
                    close("logits of the second chunk at " + t, rest.at(b, t), 0, full.at(b, p + split + t));
                }
            }
            sameStates("after the chunks", two.export(), one.export());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 4. the backend's own state

    @Test
    void aStateMovesToCpuAndBackThroughExportAndImport() {
        ModelCase m = randomModels().getFirst();
        HookCase c = new HookCase("extension", HOOK_KINDS.get("state: extension (additional-scan)"), m);
        AdapterSet set = set(m, adapter(c, "scan", 5));
        SsmModel model = model(m);
        SsmModel cpu = cpu(m);
        int[][] tokens = m.tokens();
        int[] next = new int[tokens.length];
        for (int b = 0; b < next.length; b++) {
            next[b] = (tokens[b][0] + 1 + b) % m.config().vocabSize();
        }
        try (SsmState here = model.newState(tokens.length)) {
            model.forward(tokens, set, here);
            HostState exported = here.export();
            assertThat(exported.backend()).isEqualTo(HostState.EXPORTED);
            assertThat(exported.position()).isEqualTo(here.position());
            SsmState onCpu = cpu.importState(exported);
            SsmState back = model.importState(onCpu.export());
            float[] expected = model.step(next, set, here);
            close("step on cpu from this backend's state", cpu.step(next, set, onCpu), 0, expected);
            close("step here from the round trip", model.step(next, set, back), 0, expected);
            sameStates("after the step", back.export(), here.export());
        }
    }

    /**
     * The one meaning of an initial state: {@code h_{-1} = h_state + Σh0} on a fresh state, so an imported fresh
     * state with values (say, a state carried over from another sequence) is added to, not replaced.
     */
    @Test
    void anInitialStateAddsToTheFreshStateItStartsFrom() {
        ModelCase m = randomModels().getFirst();
        HookCase c = new HookCase("initial", HOOK_KINDS.get("state: initial (initial-state)"), m);
        Adapter h0 = adapter(c, "h0", 9);
        SsmModel model = model(m);
        int[][] tokens = m.tokens();
        HostState start = model.newState(tokens.length).export();
        var rng = new java.util.Random(10);
        for (int l = 0; l < start.layers(); l++) {
            float[] ssm = start.ssmState(l);
            for (int i = 0; i < ssm.length; i++) {
                ssm[i] = (float) (0.1 * rng.nextGaussian());
            }
        }
        Logits both = model.forward(tokens, set(m, h0), model.importState(start));
        Logits cpuBoth = cpu(m).forward(tokens, set(m, h0), cpu(m).importState(start));
        close("h0 on an imported fresh state, against cpu", both.values(), 0, cpuBoth.values());
        Logits onlyState = model.forward(tokens, model.noAdapters(), model.importState(start));
        Logits onlyH0 = model.forward(tokens, set(m, h0));
        assertThat(Fixtures.maxAbsDiff(both.values(), onlyState.values())).as("h0 acts").isGreaterThan(1e-4);
        assertThat(Fixtures.maxAbsDiff(both.values(), onlyH0.values())).as("the state is kept").isGreaterThan(1e-4);
    }

    @Test
    void reorderRepeatAndForkActOnTheBackendsState() {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        AdapterSet none = model.noAdapters();
        int[][] tokens = {m.tokens()[0], m.tokens()[1], m.tokens()[0].clone()};
        tokens[2][0] = (tokens[2][0] + 1) % m.config().vocabSize(); // three different sequences
        try (SsmState s = model.newState(3)) {
            model.forward(tokens, none, s);
            HostState before = s.export();
            SsmState fork = s.fork();
            SsmState repeated = s.repeat(2, 4);
            s.reorder(new int[] {2, 0, 0});
            HostState after = s.export();
            for (int l = 0; l < before.layers(); l++) {
                assertRowsPicked(before.ssmState(l), after.ssmState(l), new int[] {2, 0, 0});
                assertRowsPicked(before.convState(l), after.convState(l), new int[] {2, 0, 0});
                assertRowsPicked(before.ssmState(l), repeated.export().ssmState(l), new int[] {2, 2, 2, 2});
            }
            assertThat(repeated.batch()).isEqualTo(4);
            assertThat(repeated.position()).isEqualTo(s.position());
            // the fork is independent: stepping the reordered state leaves it as it was
            model.step(new int[] {1, 1, 1}, none, s);
            sameStates("the fork after its source stepped", fork.export(), before);
            float[] fromFork = model.step(new int[] {4, 4, 4}, none, fork);
            float[] fromRepeat = model.step(new int[] {4, 4, 4, 4}, none, repeated);
            int v = m.config().vocabSize();
            for (int r = 0; r < 4; r++) {
                close("repeated row " + r, fromRepeat, r * v, java.util.Arrays.copyOfRange(fromFork, 2 * v, 3 * v));
            }
            fork.close();
            repeated.close();
        }
    }

    private static void assertRowsPicked(float[] before, float[] after, int[] rows) {
        int row = before.length / 3;
        for (int i = 0; i < rows.length; i++) {
            assertThat(java.util.Arrays.copyOfRange(after, i * row, (i + 1) * row)).as("row %d", i)
                    .isEqualTo(java.util.Arrays.copyOfRange(before, rows[i] * row, (rows[i] + 1) * row));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 5. gradients

    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void everyHookKindComputesCpusLossLogitsAndGradients(HookCase c) {
        AdapterSet set = set(c.model(), adapter(c, "a", 6));
        int[][] tokens = c.model().tokens();
        int[][] labels = c.model().labels();
        LossAndGradients here = model(c.model()).lossAndGradients(tokens, labels, set, Set.of());
        LossAndGradients cpu = cpu(c.model()).lossAndGradients(tokens, labels, set, Set.of());
        assertThat(here.loss()).isCloseTo(cpu.loss(), org.assertj.core.data.Offset.offset(
                SAME_ABS * Math.max(1, Math.abs(cpu.loss()))));
        assertThat(here.targets()).isEqualTo(cpu.targets());
        close("logits", here.logits().values(), 0, cpu.logits().values());
        Map<String, Tensor> expected = cpu.adapterGradients().get("a");
        assertThat(here.adapterGradients().get("a")).containsOnlyKeys(expected.keySet());
        expected.forEach((name, g) -> {
            double rel = Fixtures.relativeError(here.adapterGradient("a", name).data(), g.data());
            assertThat(rel).as("%s: dL/d%s against cpu", c, name).isLessThanOrEqualTo(GRAD_REL);
        });
    }

    /** A training step's call (no logits asked for) gives the same loss and gradients as the full one. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void gradientsWithoutLogitsEqualTheFullCallsAndSayWhyThereAreNoLogits(HookCase c) {
        AdapterSet set = set(c.model(), adapter(c, "a", 6));
        int[][] tokens = c.model().tokens();
        int[][] labels = c.model().labels();
        LossAndGradients full = model(c.model()).lossAndGradients(tokens, labels, set, Set.of());
        LossAndGradients lean = model(c.model()).lossAndGradients(tokens, labels, set, Set.of(), false);
        assertThat(lean.loss()).as("%s: loss", c).isEqualTo(full.loss());
        assertThat(lean.targets()).isEqualTo(full.targets());
        assertThat(lean.adapterGradients().get("a")).containsOnlyKeys(full.adapterGradients().get("a").keySet());
        full.adapterGradients().get("a").forEach((name, g) -> assertThat(lean.adapterGradient("a", name).data())
                .as("%s: dL/d%s without logits", c, name).isEqualTo(g.data()));
        if (!lean.hasLogits()) {
            assertThatThrownBy(lean::logits).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("keepLogits");
        } else {
            assertThat(lean.logits().values()).isEqualTo(full.logits().values());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hookCases")
    void everyHookKindsGradientPassesTheGradientCheck(HookCase c) {
        SsmModel model = model(c.model());
        Adapter a = adapter(c, "a", 7);
        AdapterSet set = set(c.model(), a);
        GradientChecks.assertPasses(model, c.model().tokens(), c.model().labels(), set, a, c.toString());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 6. threads

    @Test
    void concurrentCallsWithDistinctStatesGiveTheSerialResults() throws Exception {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        List<HookCase> kinds = hookCases().filter(h -> h.model().equals(FamilyCase.of(m))).toList();
        List<AdapterSet> sets = new ArrayList<>();
        for (int i = 0; i < kinds.size(); i++) {
            sets.add(set(m, adapter(kinds.get(i), "a" + i, 20 + i)));
        }
        List<float[]> serial = new ArrayList<>();
        for (AdapterSet s : sets) {
            serial.add(decode(model, s, m.tokens()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> futures = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                for (AdapterSet s : sets) {
                    futures.add(pool.submit(() -> decode(model, s, m.tokens())));
                }
            }
            for (int i = 0; i < futures.size(); i++) {
                close("concurrent call " + i, futures.get(i).get(), 0, serial.get(i % sets.size()));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    // a prefill of all but the last token, then one step: the step's logits
    private static float[] decode(SsmModel model, AdapterSet set, int[][] tokens) {
        int len = tokens[0].length;
        try (SsmState s = model.newState(tokens.length)) {
            model.forward(columns(tokens, 0, len - 1), set, s);
            return model.step(column(tokens, len - 1), set, s);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 6b. mixed-adapter batches

    /**
     * Whether a mixed-adapter batch gives each row the bits of the row alone on this backend (cpu: one pass whose
     * products sum each row in a fixed order); otherwise within {@value #SAME_ABS} (a GPU's product over more rows
     * may sum in another order).
     */
    protected boolean mixedBatchesExact() {
        return false;
    }

    /** The mixtures every backend must batch: name -> one adapter yaml list (joined by "+") per row, "" no adapter. */
    static final Map<String, List<String>> MIXTURES = Map.of(
            "state hooks, prefixes of two lengths, LoRA and DoRA", List.of("h", "", "prefix2+h0", "lora",
                    "prefix3+y", "h", "dora+h0"),
            "prompts of one length", List.of("prompt", "prompt@2", "prompt+h"),
            "state extensions of one width", List.of("scan", "scan@2+h", "scan"));

    private static final Map<String, String> MIXTURE_KINDS = Map.of(
            "h", HOOK_KINDS.get("state: offset (state-offset h)"),
            "y", HOOK_KINDS.get("output: offset (state-offset y)"),
            "h0", HOOK_KINDS.get("state: initial (initial-state)"),
            "prefix2", HOOK_KINDS.get("input per layer (prefix)"),
            "prefix3", "method: prefix\nnum_virtual_tokens: 3\n",
            "lora", "method: lora\nrank: 2\ntargets: [in_proj, x_proj, dt_proj, out_proj, head]\n",
            "dora", "method: lora\nrank: 2\nuse_dora: true\ntargets: [in_proj.z, out_proj, head]\n",
            "prompt", HOOK_KINDS.get("input at the embedding (prompt)"),
            "scan", HOOK_KINDS.get("state: extension (additional-scan)"));

    Stream<HookCase> mixtureCases() {
        List<HookCase> out = new ArrayList<>();
        for (ModelCase m : randomModels()) {
            MIXTURES.keySet().stream().sorted().forEach(k -> out.add(new HookCase(k, String.join(",",
                    MIXTURES.get(k)), m)));
        }
        return out.stream();
    }

    // the rows' adapter sets of a mixture: "kind@i" is the i-th adapter of that kind (a kind alone is its first; the
    // same name in two rows is the same adapter object, so those rows share a stack)
    private List<AdapterSet> perRow(HookCase c) {
        Map<String, Adapter> made = new LinkedHashMap<>();
        List<AdapterSet> out = new ArrayList<>();
        for (String row : c.yaml().split(",", -1)) {
            AdapterSet set = set(c.model());
            for (String name : row.isEmpty() ? new String[0] : row.split("\\+")) {
                String kind = name.split("@")[0];
                set.add(made.computeIfAbsent(name, n -> adapter(new HookCase(kind, MIXTURE_KINDS.get(kind),
                        c.model()), n.replace('@', '-'), 90 + made.size())));
            }
            out.add(set);
        }
        return out;
    }

    private void sameRow(String what, float[] actual, int from, float[] expected) {
        if (mixedBatchesExact()) {
            assertThat(java.util.Arrays.copyOfRange(actual, from, from + expected.length)).as(what)
                    .isEqualTo(expected);
        } else {
            close(what, actual, from, expected);
        }
    }

    /**
     * A mixed-adapter batch (row b under its own stack) gives every row what the row gives alone: the forward's
     * logits, then a decode step from the state it left, and the final states; then the model's mixed decoder
     * ({@link SsmModel#decoder(List, SsmState)}) ranks what each row's own decoder ranks, prefill and steps.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("mixtureCases")
    void aMixedAdapterBatchGivesEveryRowWhatItGivesAlone(HookCase c) {
        SsmModel model = model(c.model());
        List<AdapterSet> perRow = perRow(c);
        int batch = perRow.size();
        int len = 4;
        int vocab = model.shape().vocab();
        int[][] tokens = new int[batch][len];
        var random = new java.util.Random(17);
        for (int[] row : tokens) {
            for (int t = 0; t < len; t++) {
                row[t] = random.nextInt(vocab);
            }
        }
        int[] next = column(tokens, 1);
        try (SsmState mixed = model.newState(batch)) {
            Logits all = model.forward(tokens, perRow, mixed);
            float[] stepped = model.step(next, perRow, mixed);
            HostState states = mixed.export();
            for (int b = 0; b < batch; b++) {
                try (SsmState alone = model.newState(1)) {
                    Logits one = model.forward(new int[][] {tokens[b]}, perRow.get(b), alone);
                    assertThat(all.virtualTokens()).isEqualTo(one.virtualTokens());
                    sameRow(c + ": row " + b + "'s logits", all.values(), b * one.values().length, one.values());
                    sameRow(c + ": row " + b + "'s step", stepped, b * vocab, model.step(new int[] {next[b]},
                            perRow.get(b), alone));
                    HostState own = alone.export();
                    for (int l = 0; l < own.layers(); l++) {
                        int ssm = own.ssmState(l).length;
                        sameRow(c + ": row " + b + "'s ssm state of layer " + l, states.ssmState(l), b * ssm,
                                own.ssmState(l));
                        int extra = own.extraState(l).length;
                        sameRow(c + ": row " + b + "'s extra state of layer " + l, states.extraState(l), b * extra,
                                own.extraState(l));
                    }
                }
            }
        }
        int[] none = {};
        try (SsmState mixed = model.newState(batch); var decoder = model.decoder(perRow, mixed)) {
            TopTokens prefill = decoder.prefill(columns(tokens, 0, 2), 2, none);
            List<TopTokens> steps = new ArrayList<>();
            for (int t = 2; t < len; t++) {
                steps.add(decoder.step(column(tokens, t), 2, none));
            }
            for (int b = 0; b < batch; b++) {
                int[][] row = {tokens[b]};
                try (SsmState alone = model.newState(1); var own = model.decoder(perRow.get(b), alone)) {
                    sameTop(c + ": row " + b + "'s prefill", rowOf(prefill, b), own.prefill(columns(row, 0, 2), 2,
                            none), none);
                    for (int t = 2; t < len; t++) {
                        sameTop(c + ": row " + b + "'s step " + t, rowOf(steps.get(t - 2), b),
                                own.step(new int[] {tokens[b][t]}, 2, none), none);
                    }
                }
            }
        }
    }

    // row b of a batch's best tokens
    private static TopTokens rowOf(TopTokens top, int b) {
        int n = top.n();
        return new TopTokens(1, n, java.util.Arrays.copyOfRange(top.ids(), b * n, (b + 1) * n),
                java.util.Arrays.copyOfRange(top.logProbs(), b * n, (b + 1) * n));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // 7. refusals

    @Test
    void refusesAStateOfAnotherBackendOrAnExportedOneNamingTheFix() {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        int[][] tokens = m.tokens();
        HostState foreign = HostState.zeros(m.weights().shape(), tokens.length, "elsewhere");
        assertThatThrownBy(() -> model.forward(tokens, model.noAdapters(), foreign))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("belongs to the 'elsewhere' backend, not '" + backend() + "'")
                .hasMessageContaining("importState(state.export())");
        try (SsmState s = model.newState(tokens.length)) {
            HostState exported = s.export();
            assertThatThrownBy(() -> model.forward(tokens, model.noAdapters(), exported))
                    .hasMessageContaining("exported host copy").hasMessageContaining("importState");
            assertThatThrownBy(() -> model.forward(new int[][] {tokens[0]}, model.noAdapters(), s))
                    .hasMessageContaining("expected " + tokens.length + " token rows");
        }
    }

    @Test
    void refusesBadTokensLabelsAndBaseNamesNamingTheProblem() {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        int v = m.config().vocabSize();
        int[][] tokens = m.tokens();
        AdapterSet none = model.noAdapters();
        assertThatThrownBy(() -> model.forward(new int[][] {{1, v}, {1, 2}}, none))
                .hasMessageContaining("token id " + v).hasMessageContaining("outside the vocabulary [0, " + v + ")");
        assertThatThrownBy(() -> model.forward(new int[][] {{1, 2}, {1}}, none))
                .hasMessageContaining("token rows must have equal length");
        assertThatThrownBy(() -> model.forward(new int[][] {{}, {}}, none))
                .hasMessageContaining("at least one token per row");
        int[][] shortLabels = {java.util.Arrays.copyOf(tokens[0], 2), tokens[1]};
        assertThatThrownBy(() -> model.loss(tokens, shortLabels, none)).hasMessageContaining("labels: row 0 has 2");
        int[][] badLabel = {tokens[0].clone(), tokens[1]};
        badLabel[0][1] = v + 3;
        assertThatThrownBy(() -> model.lossAndGradients(tokens, badLabel, none, Set.of()))
                .hasMessageContaining("label " + (v + 3));
        assertThatThrownBy(() -> model.lossAndGradients(tokens, tokens, none, Set.of("backbone.layers.0.mixer.Q")))
                .hasMessageContaining("unknown base parameter 'backbone.layers.0.mixer.Q'")
                .hasMessageContaining("backbone.layers.<0..");
    }

    @Test
    void refusesAnAdapterSetOfAnotherShapeAndAFamilyItDoesNotImplement() {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        ModelShape other = randomModels().get(1).weights().shape();
        assertThatThrownBy(() -> model.forward(m.tokens(), new AdapterSet(other)))
                .hasMessageContaining("the adapter set is sized for");
        if (!provider.families().contains(ModelFamily.MAMBA2)) {
            ModelSpec mamba2 = RandomModels.specOf(ModelFamily.MAMBA2, ModelShape.mamba2(2, 16, 8, 8, 1, 32));
            assertThatThrownBy(() -> provider.create(mamba2))
                    .hasMessageContaining("backend '" + backend() + "' does not implement the mamba2 family")
                    .hasMessageContaining("it implements: mamba");
        }
    }

    @Test
    void refusesToContinueASequenceUnderOtherStateExtensions() {
        ModelCase m = randomModels().getFirst();
        SsmModel model = model(m);
        HookCase c = new HookCase("extension", HOOK_KINDS.get("state: extension (additional-scan)"), m);
        AdapterSet scan = set(m, adapter(c, "scan", 8));
        try (SsmState s = model.newState(m.tokens().length)) {
            model.forward(m.tokens(), scan, s);
            assertThatThrownBy(() -> model.step(new int[] {1, 2}, model.noAdapters(), s))
                    .hasMessageContaining("a sequence cannot continue under other state extensions");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    // the tokens at position t of every row (B)
    private static int[] column(int[][] tokens, int t) {
        int[] out = new int[tokens.length];
        for (int b = 0; b < tokens.length; b++) {
            out[b] = tokens[b][t];
        }
        return out;
    }

    private static int[][] columns(int[][] tokens, int from, int to) {
        int[][] out = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) {
            out[b] = java.util.Arrays.copyOfRange(tokens[b], from, to);
        }
        return out;
    }

    /** actual[from .. from + expected.length) ≈ expected within {@link #SAME_ABS}·max(1, max |expected|). */
    protected static void close(String what, float[] actual, int from, float[] expected) {
        double scale = 1;
        double err = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            err = Math.max(err, Math.abs((double) actual[from + i] - expected[i]));
        }
        assertThat(err).as("%s: max |difference|", what).isLessThanOrEqualTo(SAME_ABS * scale);
    }

    private static void sameStates(String what, HostState actual, HostState expected) {
        for (int l = 0; l < expected.layers(); l++) {
            close(what + ": ssm state of layer " + l, actual.ssmState(l), 0, expected.ssmState(l));
            close(what + ": conv state of layer " + l, actual.convState(l), 0, expected.convState(l));
            close(what + ": extra state of layer " + l, actual.extraState(l), 0, expected.extraState(l));
        }
    }
}
