package org.ssmpeft.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelShape;

class LoraContractTest extends PeftMethodContract {

    private static final LoraConfig ALL_MAMBA1 = new LoraConfig(4, 8, 0.1,
            List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD),
            true);
    private static final LoraConfig MAMBA2_SAFE = new LoraConfig(2, 2, 0, List.of(Projection.IN_PROJ,
            Projection.OUT_PROJ), false);
    private static final LoraConfig MAMBA2_BLOCKS = new LoraConfig(3, 6, 0, List.of(Projection.IN_PROJ_Z,
            Projection.IN_PROJ_X, Projection.IN_PROJ_B, Projection.IN_PROJ_C, Projection.IN_PROJ_DT,
            Projection.OUT_PROJ, Projection.HEAD), false);

    private static final LoraConfig DORA_MAMBA1 = new LoraConfig(4, 8, 0, List.of(Projection.IN_PROJ,
            Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), true,
            true);

    @Override
    protected String methodName() {
        return "lora";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(ALL_MAMBA1, MAMBA2_SAFE, new LoraConfig(1, 1, 0, List.of(Projection.IN_PROJ_Z), false),
                MAMBA2_BLOCKS, DORA_MAMBA1, new LoraConfig(3, 6, 0, MAMBA2_BLOCKS.targets(), false, true),
                new LoraConfig(2, 4, 0, List.of(Projection.OUT_PROJ), false, false, 16));
    }

    /** Σ over targets of r·(in + out), per selected layer; the head once. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (LoraConfig) config;
        long total = 0;
        for (Projection p : c.targets()) {
            long in;
            long out;
            switch (p) {
                case IN_PROJ -> { in = s.dModel(); out = s.inProjWidth(); }
                case IN_PROJ_X, IN_PROJ_Z -> { in = s.dModel(); out = s.dInner(); }
                case IN_PROJ_B, IN_PROJ_C -> { in = s.dModel(); out = (long) s.groups() * s.dState(); }
                case IN_PROJ_DT -> { in = s.dModel(); out = s.heads(); }
                case X_PROJ -> { in = s.dInner(); out = s.dtRank() + 2L * s.dState(); }
                case X_PROJ_DT -> { in = s.dInner(); out = s.dtRank(); }
                case X_PROJ_B, X_PROJ_C -> { in = s.dInner(); out = s.dState(); }
                case DT_PROJ -> { in = s.dtRank(); out = s.dInner(); }
                case OUT_PROJ -> { in = s.dInner(); out = s.dModel(); }
                case HEAD -> { in = s.dModel(); out = s.vocab(); }
                default -> throw new AssertionError(p);
            }
            // DoRA: a magnitude per adapted row
            total += (c.rank() * (in + out) + (c.useDora() ? out : 0)) * (p == Projection.HEAD ? 1 : layers);
        }
        return total;
    }

    @Test
    void thePaperBaselineOnMamba130mHas1204224Parameters() {
        assertThat(count(LoraConfig.DEFAULT, ModelShape.preset("mamba-130m").orElseThrow(), LayerSelection.ALL))
                .isEqualTo(1_204_224);
    }

    /** Mamba-2's in_proj rows: [z (D) | x (D) | B (GN) | C (GN) | dt (H)]. */
    @Test
    void mamba2InProjBlocksCoverTheirRowsInTheMamba2Order() {
        ModelShape s = ModelShape.mamba2(2, 32, 8, 16, 2, 50);
        var hook = (ProjectionHook) adapter(MAMBA2_BLOCKS, s, LayerSelection.ALL);
        int d = s.dInner();
        int gn = s.groups() * s.dState();
        assertThat(gn).isEqualTo(16);
        int[][] expected = {{0, d}, {d, d}, {2 * d, gn}, {2 * d + gn, gn}, {2 * d + 2 * gn, s.heads()}};
        List<Projection> blocks = List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X, Projection.IN_PROJ_B,
                Projection.IN_PROJ_C, Projection.IN_PROJ_DT);
        int covered = 0;
        for (int i = 0; i < blocks.size(); i++) {
            LowRankDelta delta = hook.delta(1, blocks.get(i)).orElseThrow();
            assertThat(delta.rowOffset()).as(blocks.get(i).configName()).isEqualTo(expected[i][0]);
            assertThat(delta.b().shape()).as(blocks.get(i).configName()).containsExactly(expected[i][1], 3);
            assertThat(delta.a().shape()).containsExactly(3, s.dModel());
            covered += expected[i][1];
        }
        assertThat(covered).as("the blocks tile in_proj").isEqualTo(s.inProjWidth());
        ModelShape m1 = ModelShape.preset("mamba-tiny").orElseThrow();
        assertThat(Projection.IN_PROJ_Z.rowOffset(m1)).as("Mamba-1's [x, z]").isEqualTo(m1.dInner());
        assertThat(Projection.IN_PROJ_X.rowOffset(m1)).isZero();
    }

    @Test
    void mamba2BlocksAreRefusedOnMamba1AndMamba1BlocksOnMamba2() {
        var provider = new LoraProvider();
        assertThat(provider.validate(MAMBA2_BLOCKS, ModelShape.preset("mamba-tiny").orElseThrow()))
                .extracting(p -> p.toString().substring(0, p.toString().indexOf(';')))
                .containsExactly("targets[2]: target in_proj.B does not exist in mamba blocks",
                        "targets[3]: target in_proj.C does not exist in mamba blocks",
                        "targets[4]: target in_proj.dt does not exist in mamba blocks");
        assertThat(provider.validate(new LoraConfig(2, 2, 0, List.of(Projection.X_PROJ_B), false),
                ModelShape.preset("mamba2-tiny").orElseThrow())).singleElement().asString()
                .startsWith("targets[0]: target x_proj.B does not exist in mamba2 blocks; mamba2 has: in_proj,"
                        + " in_proj.x, in_proj.z, in_proj.B, in_proj.C, in_proj.dt, out_proj, head");
    }

    @Test
    void rowBlocksCoverTheirRowsOfTheFullWeight() {
        ModelShape tiny = ModelShape.preset("mamba-tiny").orElseThrow();
        var hook = (ProjectionHook) adapter(LoraConfig.DEFAULT, tiny, LayerSelection.ALL);
        LowRankDelta dt = hook.delta(0, Projection.X_PROJ_DT).orElseThrow();
        LowRankDelta b = hook.delta(0, Projection.X_PROJ_B).orElseThrow();
        LowRankDelta c = hook.delta(1, Projection.X_PROJ_C).orElseThrow();
        assertThat(dt.rowOffset()).isZero();
        assertThat(dt.b().shape()).containsExactly(4, 8);
        assertThat(b.rowOffset()).isEqualTo(4);
        assertThat(c.rowOffset()).isEqualTo(4 + 16);
        assertThat(c.a().shape()).containsExactly(8, 128);
        assertThat(hook.delta(0, Projection.OUT_PROJ)).isEmpty();
        assertThat(dt.scaling()).isEqualTo(1.0f);
    }

    @Test
    void startsAsTheIdentityWithAKaimingUniformA() {
        var a = adapter(ALL_MAMBA1, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        var delta = ((ProjectionHook) a).delta(0, Projection.X_PROJ).orElseThrow();
        assertThat(delta.b().isZero()).isTrue();
        float bound = (float) (1 / Math.sqrt(128));
        for (float v : delta.a().data()) {
            assertThat(v).isBetween(-bound, bound);
        }
        assertThat(delta.scaling()).isEqualTo((float) (8 / Math.sqrt(4)));
    }

    @Test
    void theHeadDeltaIsModelWide() {
        var hook = (ProjectionHook) adapter(ALL_MAMBA1, ModelShape.preset("mamba-tiny").orElseThrow(),
                LayerSelection.of(1));
        assertThat(hook.delta(-1, Projection.HEAD).orElseThrow().b().shape()).containsExactly(256, 4);
        assertThat(hook.delta(0, Projection.IN_PROJ)).isEmpty();
        assertThat(hook.delta(1, Projection.IN_PROJ)).isPresent();
    }

    /** init_lora_weights is read by name: a value PEFT has but this runtime does not (olora) lists the valid ones. */
    @Test
    void anUnknownInitLoraWeightsIsRefusedListingTheValidValues() {
        var problems = new java.util.ArrayList<org.ssmpeft.api.config.ConfigProblem>();
        var node = org.ssmpeft.api.config.ConfigFiles.json().createObjectNode().put("init_lora_weights", "olora");
        assertThat(org.ssmpeft.api.config.ConfigBinder.bind(LoraConfig.class, LoraConfig.DEFAULT, node, "", List.of(),
                problems)).isEmpty();
        assertThat(problems).hasSize(1);
        assertThat(problems.getFirst().toString())
                .contains("init_lora_weights: expected one of default, pissa, found string \"olora\"");
        node.put("init_lora_weights", "PiSSA");
        problems.clear();
        assertThat(org.ssmpeft.api.config.ConfigBinder.bind(LoraConfig.class, LoraConfig.DEFAULT, node, "", List.of(),
                problems).orElseThrow().initLoraWeights()).isEqualTo(LoraInit.PISSA);
    }

    @Test
    void pissaStartsAAndBUnsetForThePlanAndMarksItsDeltas() {
        var config = new LoraConfig(2, 4, 0, List.of(Projection.X_PROJ, Projection.HEAD), false, false, 1.0,
                LoraInit.PISSA);
        var hook = (ProjectionHook) adapter(config, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        LowRankDelta d = hook.delta(1, Projection.X_PROJ).orElseThrow();
        assertThat(d.pissa()).isTrue();
        for (float[] factor : List.of(d.a().data(), d.b().data())) {
            for (float v : factor) {
                assertThat(v).isNaN(); // Initializer.PrincipalFactor: set by the runtime's plan
            }
        }
        assertThat(((ProjectionHook) adapter(LoraConfig.DEFAULT, ModelShape.preset("mamba-tiny").orElseThrow(),
                LayerSelection.ALL)).delta(1, Projection.X_PROJ_B).orElseThrow().pissa()).isFalse();
    }

    @Test
    void overlappingTargetsAreRefused() {
        assertThatThrownBy(() -> new LoraConfig(8, 8, 0, List.of(Projection.X_PROJ, Projection.X_PROJ_B), false))
                .isInstanceOf(InvalidFieldException.class)
                .hasMessageContaining("x_proj and x_proj.B overlap");
    }

    @Test
    void mamba1OnlyTargetsAreRefusedOnMamba2() {
        var problems = new LoraProvider().validate(LoraConfig.DEFAULT, ModelShape.preset("mamba2-tiny").orElseThrow());
        assertThat(problems).hasSize(4);
        assertThat(problems.getFirst().toString())
                .isEqualTo("targets[0]: target x_proj.dt does not exist in mamba2 blocks; mamba2 has: in_proj,"
                        + " in_proj.x, in_proj.z, in_proj.B, in_proj.C, in_proj.dt, out_proj, head");
    }

    /** 1,204,224 + 24 · (48 + 16 + 16 + 1536) magnitudes: DoRA on the paper's LoRA targets of Mamba-130M. */
    @Test
    void doraOnThePaperBaselineOfMamba130mHas1243008Parameters() {
        var dora = new LoraConfig(8, 8, 0, LoraConfig.DEFAULT.targets(), false, true);
        assertThat(count(dora, ModelShape.preset("mamba-130m").orElseThrow(), LayerSelection.ALL))
                .isEqualTo(1_243_008);
    }

    @Test
    void aDoraMagnitudeStartsUnsetUntilTheRuntimeMeetsTheBaseWeightAndIsHandedOutWithTheDelta() {
        var a = adapter(DORA_MAMBA1, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        var delta = ((ProjectionHook) a).delta(1, Projection.X_PROJ_B).orElseThrow();
        assertThat(delta.magnitude()).isPresent();
        assertThat(delta.magnitude().get()).isSameAs(a.parameter("layers.1.x_proj.B.lora_magnitude_vector"));
        assertThat(delta.magnitude().get().shape()).containsExactly(16);
        for (float v : delta.magnitude().get().data()) {
            assertThat(v).isNaN(); // Initializer.BaseRowNorm
        }
        assertThat(a.parameterSpecs().stream().filter(p -> p.name().endsWith("lora_magnitude_vector"))
                .allMatch(p -> p.initializer() instanceof org.ssmpeft.api.adapter.Initializer.BaseRowNorm)).isTrue();
        var plain = adapter(ALL_MAMBA1, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        assertThat(((ProjectionHook) plain).delta(0, Projection.X_PROJ).orElseThrow().magnitude()).isEmpty();
    }

    @Test
    void loraPlusGivesBItsLearningRateRatioAndRefusesARatioThatIsNotPositive() {
        var plus = new LoraConfig(2, 4, 0, List.of(Projection.IN_PROJ), false, false, 16);
        var a = adapter(plus, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        assertThat(a.parameterSpecs()).allSatisfy(p -> assertThat(p.learningRateScale())
                .isEqualTo(p.name().endsWith("lora_B") ? 16.0 : 1.0));
        assertThat(count(plus, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL))
                .as("an optimiser setting: the same parameters").isEqualTo(count(new LoraConfig(2, 4, 0,
                        List.of(Projection.IN_PROJ), false), ModelShape.preset("mamba-tiny").orElseThrow(),
                        LayerSelection.ALL));
        for (double bad : new double[] {0, -2, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> new LoraConfig(2, 4, 0, List.of(Projection.IN_PROJ), false, false, bad))
                    .isInstanceOf(InvalidFieldException.class).hasMessageStartingWith("expected a finite number > 0")
                    .satisfies(e -> assertThat(((InvalidFieldException) e).field()).isEqualTo("loraplus_lr_ratio"));
        }
    }
}
