package org.ssmpeft.runtime.cuda.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.contract.BackendContract;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * The cuda model's orchestration (every buffer, stride, row copy, hook and gradient route of {@link CudaMamba},
 * {@link MambaBlock}, {@link DevicePlan}, {@link CudaState}) passes the whole backend contract on an emulated device
 * whose kernels are their contracts in plain Java ({@link HostDevice}); it runs everywhere, no GPU needed. Freshly
 * allocated emulated memory is NaN, so a buffer read before it is written fails the comparisons.
 */
class EmulatedCudaModelTest extends BackendContract {

    /**
     * Hooks the contract's kinds do not reach, each against cpu: DoRA on every target and the head, LoRA on row
     * blocks (row offsets), PiSSA's frozen second term, rsLoRA, and parameter deltas on every matrix and the
     * embedding (effective weights θ_base + ΣΔθ, a tied head following its embedding).
     */
    static final Map<String, String> MORE_KINDS = Map.of(
            "dora, every target and the head", "method: lora\nrank: 2\nuse_dora: true\ntargets: [in_proj, x_proj,"
                    + " dt_proj, out_proj, head]\n",
            "lora on row blocks", "method: lora\nrank: 2\nuse_rslora: true\ntargets: [in_proj.z, x_proj.B,"
                    + " x_proj.dt, head]\n",
            "pissa", "method: lora\nrank: 1\ninit_lora_weights: pissa\ntargets: [x_proj, out_proj]\n",
            "parameter deltas on every matrix", "method: partial-ft\nlayer_parameters: [in_proj.weight,"
                    + " x_proj.weight, dt_proj.weight, out_proj.weight, conv1d.weight, conv1d.bias, norm.weight,"
                    + " A_log, D, dt_proj.bias]\nmodel_parameters: [embeddings.weight, norm_f.weight]\n");

    /** The random models, made once (each call of RandomModels.defaults() makes new weights). */
    static final List<ModelCase> MODELS = RandomModels.defaults();

    static Stream<HookCase> moreHookCases() {
        List<HookCase> out = new ArrayList<>();
        for (ModelCase m : MODELS) {
            MORE_KINDS.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> out.add(new HookCase(e.getKey(), e.getValue(), m)));
        }
        return out.stream();
    }

    private final Map<ModelCase, SsmModel> emulated = new java.util.HashMap<>();
    private final Map<ModelCase, SsmModel> cpu = new java.util.HashMap<>();

    private SsmModel emulated(ModelCase m) {
        return emulated.computeIfAbsent(m, k -> create(k.weights()));
    }

    private SsmModel cpu(ModelCase m) {
        return cpu.computeIfAbsent(m, k -> Backends.forName(Backends.CPU).create(k.weights()));
    }

    private static ModelCase modelOf(HookCase c) {
        return MODELS.stream().filter(m -> m.name().equals(c.model().name())).findFirst().orElseThrow();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("moreHookCases")
    void moreHookKindsComputeCpusLossLogitsAndGradientsAndDecodeAsTheyForward(HookCase c) {
        ModelCase m = modelOf(c);
        AdapterSet set = new AdapterSet(m.weights().shape()).add(adapter(c, "a", 31));
        sameAsCpu(c.toString(), m, set, Set.of());
        decodesAsItForwards(c.toString(), m, set);
    }

    @Test
    void aStackOfEveryStateAndInputHookWithLoraComputesCpusGradients() {
        for (ModelCase m : MODELS) {
            AdapterSet set = new AdapterSet(m.weights().shape());
            String[] yamls = {HOOK_KINDS.get("input at the embedding (prompt)"),
                    HOOK_KINDS.get("input per layer (prefix)"), HOOK_KINDS.get("state: initial (initial-state)"),
                    HOOK_KINDS.get("state: offset (state-offset h)"), HOOK_KINDS.get("output: offset (state-offset y)"),
                    HOOK_KINDS.get("state: extension (additional-scan)"), "method: additional-scan\nn_extra: 2\n",
                    HOOK_KINDS.get("projection (lora, every target)"), MORE_KINDS.get("dora, every target and the head")};
            for (int i = 0; i < yamls.length; i++) {
                set.add(adapter(new HookCase("stack " + i, yamls[i], m), "a" + i, 40 + i));
            }
            sameAsCpu("the stack on " + m.name(), m, set, Set.of());
            decodesAsItForwards("the stack on " + m.name(), m, set);
        }
    }

    @Test
    void everyBaseParameterTrainedGivesCpusBaseGradients() {
        for (ModelCase m : MODELS) {
            sameAsCpu("full fine-tuning on " + m.name(), m, new AdapterSet(m.weights().shape()),
                    m.weights().parameters().keySet());
        }
    }

    @Test
    void theHeadAndLossInChunksOfRowsComputeCpusLossLogitsAndGradients() {
        for (ModelCase m : MODELS) {
            try (var model = new CudaMamba(m.weights(), HostDevice.create(new HostMemory()))) {
                model.headChunkFloats(2L * m.config().vocabSize()); // 2 rows a chunk, the last one shorter when odd
                AdapterSet set = new AdapterSet(m.weights().shape());
                String[] yamls = {HOOK_KINDS.get("input at the embedding (prompt)"),
                        HOOK_KINDS.get("state: offset (state-offset h)"), MORE_KINDS.get("lora on row blocks")};
                for (int i = 0; i < yamls.length; i++) {
                    set.add(adapter(new HookCase("head " + i, yamls[i], m), "a" + i, 60 + i));
                }
                Set<String> trainable = m.weights().parameters().keySet().stream()
                        .filter(n -> !n.contains("layers.")).collect(java.util.stream.Collectors.toSet());
                assertThat(m.tokens().length * m.tokens()[0].length).as("rows, several chunks").isGreaterThan(2);
                sameAsCpu("the head in chunks on " + m.name(), model, m, set, trainable);
            }
        }
    }

    /**
     * A mixed-adapter batch (each row its own stack) on cuda's one pass ({@link BatchPlan}), equal bit for bit to
     * each row run alone, forward and a decode step after it, and within float tolerance of the cpu's one pass.
     */
    @Test
    void aMixedAdapterBatchEqualsEachRowAloneAndCpusBatch() {
        for (ModelCase m : MODELS) {
            if (m.tokens().length < 2) {
                continue;
            }
            SsmModel model = emulated(m);
            String[] kinds = {"state: offset (state-offset h)", "projection (lora, every target)",
                    "state: initial (initial-state)"};
            List<AdapterSet> perRow = new ArrayList<>();
            for (int b = 0; b < m.tokens().length; b++) {
                String kind = kinds[b % kinds.length];
                perRow.add(new AdapterSet(m.weights().shape()).add(adapter(new HookCase(kind, HOOK_KINDS.get(kind), m),
                        "row" + b, 70 + b)));
            }
            int[][] tokens = m.tokens();
            int[] next = new int[tokens.length];
            try (SsmState mixed = model.newState(tokens.length)) {
                Logits all = model.forward(tokens, perRow, mixed);
                float[] stepped = model.step(next, perRow, mixed);
                close("mixed batch against cpu's on " + m.name(), all.values(), 0,
                        cpu(m).forward(tokens, perRow).values());
                for (int b = 0; b < tokens.length; b++) {
                    try (SsmState alone = model.newState(1)) {
                        Logits one = model.forward(new int[][] {tokens[b]}, perRow.get(b), alone);
                        float[] row = java.util.Arrays.copyOfRange(all.values(), b * one.values().length,
                                (b + 1) * one.values().length);
                        assertThat(row).as("row %d of the mixed batch on %s", b, m.name()).isEqualTo(one.values());
                        float[] step = model.step(new int[] {next[b]}, perRow.get(b), alone);
                        assertThat(java.util.Arrays.copyOfRange(stepped, b * step.length, (b + 1) * step.length))
                                .as("row %d's decode step after the mixed batch on %s", b, m.name()).isEqualTo(step);
                    }
                }
            }
        }
    }

    private void sameAsCpu(String what, ModelCase m, AdapterSet set, Set<String> trainable) {
        sameAsCpu(what, emulated(m), m, set, trainable);
    }

    private void sameAsCpu(String what, SsmModel model, ModelCase m, AdapterSet set, Set<String> trainable) {
        LossAndGradients here = model.lossAndGradients(m.tokens(), m.labels(), set, trainable);
        LossAndGradients there = cpu(m).lossAndGradients(m.tokens(), m.labels(), set, trainable);
        assertThat(here.loss()).as("%s: loss", what).isCloseTo(there.loss(),
                org.assertj.core.data.Offset.offset(SAME_ABS * Math.max(1, Math.abs(there.loss()))));
        assertThat(model.loss(m.tokens(), m.labels(), set)).as("%s: forward-only loss", what)
                .isCloseTo(there.loss(), org.assertj.core.data.Offset.offset(SAME_ABS * Math.max(1,
                        Math.abs(there.loss()))));
        close(what + ": logits", here.logits().values(), 0, there.logits().values());
        assertThat(here.adapterGradients().keySet()).isEqualTo(there.adapterGradients().keySet());
        there.adapterGradients().forEach((adapter, grads) -> grads.forEach((name, g) ->
                assertThat(Fixtures.relativeError(here.adapterGradient(adapter, name).data(), g.data()))
                        .as("%s: dL/d%s of %s against cpu", what, name, adapter).isLessThanOrEqualTo(GRAD_REL)));
        assertThat(here.baseGradients()).containsOnlyKeys(there.baseGradients().keySet());
        there.baseGradients().forEach((name, g) -> {
            Tensor mine = here.baseGradients().get(name);
            assertThat(Fixtures.relativeError(mine.data(), g.data())).as("%s: dL/d%s against cpu", what, name)
                    .isLessThanOrEqualTo(GRAD_REL);
        });
    }

    private void decodesAsItForwards(String what, ModelCase m, AdapterSet set) {
        SsmModel model = emulated(m);
        int[][] tokens = m.tokens();
        try (SsmState whole = model.newState(tokens.length); SsmState stepped = model.newState(tokens.length)) {
            Logits full = model.forward(tokens, set, whole);
            close(what + ": forward against cpu", full.values(), 0, cpu(m).forward(tokens, set).values());
            for (int t = 0; t < tokens[0].length; t++) {
                int[] column = new int[tokens.length];
                for (int b = 0; b < tokens.length; b++) {
                    column[b] = tokens[b][t];
                }
                float[] step = model.step(column, set, stepped);
                for (int b = 0; b < tokens.length; b++) {
                    close(what + ": step " + t + ", row " + b, step, b * full.vocab(),
                            full.at(b, full.virtualTokens() + t));
                }
            }
        }
    }

    @Override
    protected String backend() {
        return HostDevice.NAME;
    }

    /**
     * The emulation's products sum each row in a fixed order, so the one pass's orchestration (the parts' row
     * slices, the per-row scan hooks, the unused virtual rows of a shorter prefix) must give each row's bits.
     */
    @Override
    protected boolean mixedBatchesExact() {
        return true;
    }

    /**
     * The contract's two shapes and four seeded random ones (odd sizes, layers 1-3, N 1-6, R 1-3, K 2-4, B 1-2), with
     * a conv bias (the contract's bitfit config trains it; the plan refuses it on a model without one, as on cpu).
     */
    @Override
    protected List<ModelCase> randomModels() {
        List<ModelCase> all = new ArrayList<>(RandomModels.defaults());
        RandomModels.sweep(12, 2026).stream().filter(m -> m.config().useConvBias()).limit(4).forEach(all::add);
        return all;
    }

    @Test
    void everyCallGivesBackItsMemoryAndCloseFreesTheRestItsOpenStatesIncluded() {
        ModelCase m = RandomModels.defaults().getFirst();
        var mem = new HostMemory();
        var model = new CudaMamba(m.weights(), HostDevice.create(mem));
        int resident = mem.liveAllocations();
        SsmState s = model.newState(m.tokens().length);
        model.forward(m.tokens(), model.noAdapters(), s);
        model.lossAndGradients(m.tokens(), m.labels(), model.noAdapters(), Set.of("backbone.layers.0.mixer.A_log"));
        SsmState fork = s.fork();
        s.reorder(new int[] {1, 0});
        fork.close();
        assertThat(mem.liveAllocations()).as("allocations after the calls: the weights and one open state")
                .isEqualTo(resident + 2 * m.config().layers());
        model.close();
        assertThat(mem.liveAllocations()).as("allocations after the model closed, a state still open").isZero();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> model.forward(m.tokens(), model.noAdapters()))
                .hasMessageContaining("model is closed");
        s.close(); // after its model: nothing left to free, no failure
        model.close();
    }
}
