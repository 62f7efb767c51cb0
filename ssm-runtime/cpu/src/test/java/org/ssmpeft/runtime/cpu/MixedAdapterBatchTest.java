package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * Mixed-adapter batches on the cpu backend: one forward (or one decode step) in which row b acts under its own adapter
 * stack gives, row by row, exactly the bits of row b run alone under that stack; for every hook kind, for a mixture of
 * kinds, through decode steps; and rows that cannot share one call are refused naming the rows.
 */
class MixedAdapterBatchTest {

    private static final MambaConfig CONFIG = RandomMamba.config(17, 16, 4, 3);
    private static final ModelShape SHAPE = CONFIG.toShape();
    private static final MambaWeights WEIGHTS = RandomMamba.weights(CONFIG, 31);
    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());
    private static final CpuMamba MODEL = new CpuMamba(WEIGHTS);
    private static final int V = CONFIG.vocabSize();

    private static Adapter adapter(String name, String method, Record config, long seed) {
        Adapter a = FACTORY.create(new AdapterConfig(name, method, LayerSelection.ALL, config), SHAPE,
                AdapterFactory.seeded(seed));
        return RandomMamba.randomize(a, 0.2, seed);
    }

    private static AdapterSet stack(Adapter... adapters) {
        var set = new AdapterSet(SHAPE);
        for (Adapter a : adapters) {
            set.add(a);
        }
        return set.snapshot();
    }

    private static Adapter stateOffsetH(long seed) {
        return adapter("h-" + seed, "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.H,
                StateInit.ZERO), seed);
    }

    private static Adapter stateOffsetY(long seed) {
        return adapter("y-" + seed, "state-offset", new StateOffsetConfig(StateOffsetConfig.Variant.Y,
                StateInit.ZERO), seed);
    }

    private static Adapter initialState(long seed) {
        return adapter("h0-" + seed, "initial-state", new InitialStateConfig(StateInit.ZERO), seed);
    }

    private static Adapter prompt(long seed) {
        return adapter("prompt-" + seed, "prompt", new PromptConfig(3, 0.02), seed);
    }

    private static Adapter prefix(int tokens, long seed) {
        return adapter("prefix-" + seed, "prefix", new PrefixConfig(tokens, true, 8, 0.02), seed);
    }

    private static Adapter lora(long seed) {
        return adapter("lora-" + seed, "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_Z,
                Projection.X_PROJ_C, Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), false), seed);
    }

    private static Adapter dora(long seed) {
        return adapter("dora-" + seed, "lora", new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ,
                Projection.OUT_PROJ), false, true), seed);
    }

    private static Adapter additionalScan(long seed) {
        return adapter("scan-" + seed, "additional-scan", new AdditionalScanConfig(3,
                AdditionalScanConfig.AInit.LOG_RANGE), seed);
    }

    private static float[] row(float[] values, int b, int rowLength) {
        return Arrays.copyOfRange(values, b * rowLength, (b + 1) * rowLength);
    }

    /** One mixed forward against every row alone: equal bit for bit (float[] equality is by the bits). */
    private static void assertEveryRowAsAlone(List<AdapterSet> perRow, int length) {
        int batch = perRow.size();
        int[][] tokens = RandomMamba.tokens(batch, length, V, 7);
        Logits mixed = MODEL.forward(tokens, perRow);
        for (int b = 0; b < batch; b++) {
            Logits alone = MODEL.forward(new int[][] {tokens[b]}, perRow.get(b));
            assertThat(mixed.length()).isEqualTo(alone.length());
            assertThat(mixed.virtualTokens()).isEqualTo(alone.virtualTokens());
            assertThat(row(mixed.values(), b, mixed.length() * V)).as("row %d", b).isEqualTo(alone.values());
        }
    }

    @Test
    void stateOffsetsOfEveryRowActOnItsRowOnly() {
        assertEveryRowAsAlone(List.of(stack(stateOffsetH(1)), MODEL.noAdapters(), stack(stateOffsetH(2)),
                stack(stateOffsetH(1))), 6);
    }

    @Test
    void outputOffsetsOfEveryRowActOnItsRowOnly() {
        assertEveryRowAsAlone(List.of(stack(stateOffsetY(3)), stack(stateOffsetY(4)), MODEL.noAdapters()), 6);
    }

    @Test
    void initialStatesOfEveryRowStartItsRowOnly() {
        assertEveryRowAsAlone(List.of(MODEL.noAdapters(), stack(initialState(5)), stack(initialState(6))), 6);
    }

    @Test
    void promptsOfOneLengthArePrependedToTheirRowsOnly() {
        assertEveryRowAsAlone(List.of(stack(prompt(7)), stack(prompt(8)), stack(prompt(7))), 5);
    }

    @Test
    void prefixesOfDifferentLengthsActOnTheirRowsOnly() {
        assertEveryRowAsAlone(List.of(stack(prefix(2, 9)), MODEL.noAdapters(), stack(prefix(4, 10)),
                stack(prefix(1, 11))), 5);
    }

    @Test
    void loraAndDoraDeltasActOnTheirRowsSliceOfEveryProduct() {
        assertEveryRowAsAlone(List.of(stack(lora(12)), stack(dora(13)), MODEL.noAdapters(), stack(lora(14))), 6);
    }

    @Test
    void stateExtensionsOfOneWidthActOnTheirRowsOnly() {
        assertEveryRowAsAlone(List.of(stack(additionalScan(15)), stack(additionalScan(16))), 6);
    }

    /** Rows of different kinds and stacks of several kinds in one batch. */
    private static List<AdapterSet> mixture() {
        Adapter lora = lora(20);
        return List.of(stack(lora), stack(stateOffsetH(21), stateOffsetY(22)), stack(prefix(2, 23), initialState(24)),
                MODEL.noAdapters(), stack(prefix(3, 25), lora, stateOffsetH(26)), stack(dora(27), initialState(28)),
                stack(lora));
    }

    @Test
    void aMixtureOfKindsAndStacksInOneBatchEqualsEveryRowAlone() {
        assertEveryRowAsAlone(mixture(), 7);
    }

    @Test
    void decodeStepsOfAMixedBatchEqualEveryRowSteppedAloneAndTheMixedForward() {
        List<AdapterSet> perRow = mixture();
        int batch = perRow.size();
        int steps = 6;
        int[][] tokens = RandomMamba.tokens(batch, steps, V, 8);
        Logits forward = MODEL.forward(tokens, perRow);
        SsmState mixed = MODEL.newState(batch);
        SsmState[] alone = new SsmState[batch];
        for (int b = 0; b < batch; b++) {
            alone[b] = MODEL.newState(1);
        }
        double worst = 0;
        for (int t = 0; t < steps; t++) {
            int[] column = new int[batch];
            for (int b = 0; b < batch; b++) {
                column[b] = tokens[b][t];
            }
            float[] step = MODEL.step(column, perRow, mixed);
            for (int b = 0; b < batch; b++) {
                float[] one = MODEL.step(new int[] {tokens[b][t]}, perRow.get(b), alone[b]);
                assertThat(row(step, b, V)).as("row %d, step %d", b, t).isEqualTo(one);
                worst = Math.max(worst, Fixtures.maxAbsDiff(row(step, b, V), forward.at(b, t)));
            }
        }
        // decode == forward holds to float32 rounding on cpu (HookedDecodingTest), not bitwise
        assertThat(worst).isLessThanOrEqualTo(1e-6);
    }

    @Test
    void aMixedForwardContinuesEveryRowsStateAsAlone() {
        List<AdapterSet> perRow = List.of(stack(stateOffsetH(30), lora(31)), stack(initialState(32)),
                stack(prefix(2, 33)), MODEL.noAdapters());
        int batch = perRow.size();
        int[][] first = RandomMamba.tokens(batch, 4, V, 9);
        int[][] then = RandomMamba.tokens(batch, 3, V, 10);
        SsmState mixed = MODEL.newState(batch);
        MODEL.forward(first, perRow, mixed);
        Logits next = MODEL.forward(then, perRow, mixed);
        for (int b = 0; b < batch; b++) {
            SsmState one = MODEL.newState(1);
            MODEL.forward(new int[][] {first[b]}, perRow.get(b), one);
            float[] alone = MODEL.forward(new int[][] {then[b]}, perRow.get(b), one).values();
            assertThat(row(next.values(), b, 3 * V)).as("row %d", b).isEqualTo(alone);
        }
    }

    @Test
    void aBatchOfOneStackIsThePlainForward() {
        AdapterSet set = stack(lora(40), prompt(41));
        int[][] tokens = RandomMamba.tokens(3, 5, V, 11);
        assertThat(MODEL.forward(tokens, List.of(set, set, set)).values())
                .isEqualTo(MODEL.forward(tokens, set).values());
    }

    // -----------------------------------------------------------------------------------------------------------
    // what cannot be one call is refused, naming the rows

    @Test
    void anAdapterListOfAnotherLengthThanTheBatchIsRefused() {
        int[][] tokens = RandomMamba.tokens(3, 4, V, 12);
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(MODEL.noAdapters(), MODEL.noAdapters())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a mixed-adapter batch needs one adapter set per token row: 3 rows, 2 adapter sets");
    }

    @Test
    void anAdapterSetForAnotherModelShapeIsRefusedNamingItsRow() {
        ModelShape other = RandomMamba.config(17, 8, 4, 2).toShape();
        int[][] tokens = RandomMamba.tokens(2, 4, V, 13);
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(MODEL.noAdapters(), new AdapterSet(other))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the adapter set of row 1 is sized for " + other.describe())
                .hasMessageEndingWith("but the model is " + SHAPE.describe());
    }

    @Test
    void rowsThatWouldNeedLogitsOfDifferentLengthsAreRefused() {
        Adapter longer = adapter("prompt-5", "prompt", new PromptConfig(5, 0.02), 50);
        int[][] tokens = RandomMamba.tokens(3, 4, V, 14);
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(stack(prompt(51)), stack(prompt(52)),
                stack(longer))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the rows of a mixed-adapter batch need logits of different lengths: row 0 P = 3, row 1"
                        + " P = 3, row 2 P = 5; one call gives one (B, P+T, V) block, so batch together rows whose"
                        + " prompts have the same number of virtual tokens");
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(stack(prompt(51)), MODEL.noAdapters(),
                MODEL.noAdapters())))
                .hasMessageContaining("row 0 P = 3, rows 1-2 P = 0");
    }

    @Test
    void rowsWithOtherParameterDeltasOrStateExtensionWidthsAreRefused() {
        var bitfit = BaseDeltaAdapter.of("bitfit", SHAPE, WEIGHTS.parameters(),
                List.of(MambaWeights.layerName(1, "mixer.D")));
        RandomMamba.randomize(bitfit, 0.05, 60);
        int[][] tokens = RandomMamba.tokens(2, 4, V, 15);
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(stack(bitfit), MODEL.noAdapters())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("row 0 and row 1 change the base weights differently");
        assertThatThrownBy(() -> MODEL.forward(tokens, List.of(MODEL.noAdapters(), stack(additionalScan(61)))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("row 0 and row 1 extend the state by [0, 0, 0] and [3, 3, 3] dimensions");
        // the same parameter deltas on every row are one set of base weights: allowed
        assertEveryRowAsAlone(List.of(stack(bitfit, lora(62)), stack(bitfit, stateOffsetH(63))), 4);
    }

    @Test
    void theRowByRowDefaultOfOtherBackendsGivesTheSameRows() {
        // SsmModel's default (djl, cuda) on this model: each row alone, written back into the batch state
        SsmModel rowByRow = new SsmModel() {
            @Override
            public String backend() {
                return MODEL.backend();
            }

            @Override
            public org.ssmpeft.runtime.backend.ModelSpec spec() {
                return MODEL.spec();
            }

            @Override
            public SsmState newState(int batch) {
                return MODEL.newState(batch);
            }

            @Override
            public SsmState importState(org.ssmpeft.runtime.backend.HostState host) {
                return MODEL.importState(host);
            }

            @Override
            public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
                return MODEL.forward(tokens, adapters, state);
            }

            @Override
            public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
                return MODEL.hiddenStates(tokens, adapters);
            }

            @Override
            public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
                return MODEL.loss(tokens, labels, adapters);
            }

            @Override
            public org.ssmpeft.runtime.backend.LossAndGradients lossAndGradients(int[][] tokens, int[][] labels,
                    AdapterSet adapters, java.util.Set<String> trainableBaseNames) {
                return MODEL.lossAndGradients(tokens, labels, adapters, trainableBaseNames);
            }
        };
        List<AdapterSet> perRow = mixture();
        int[][] tokens = RandomMamba.tokens(perRow.size(), 5, V, 16);
        SsmState a = MODEL.newState(perRow.size());
        SsmState b = MODEL.newState(perRow.size());
        assertThat(rowByRow.forward(tokens, perRow, a).values()).isEqualTo(MODEL.forward(tokens, perRow, b).values());
        int[] next = new int[perRow.size()];
        assertThat(rowByRow.step(next, perRow, a)).isEqualTo(MODEL.step(next, perRow, b));
        assertThat(a.position()).isEqualTo(b.position());
    }
}
