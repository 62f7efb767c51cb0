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

    @Override
    protected String methodName() {
        return "lora";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(ALL_MAMBA1, MAMBA2_SAFE, new LoraConfig(1, 1, 0, List.of(Projection.IN_PROJ_Z), false));
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
                case X_PROJ -> { in = s.dInner(); out = s.dtRank() + 2L * s.dState(); }
                case X_PROJ_DT -> { in = s.dInner(); out = s.dtRank(); }
                case X_PROJ_B, X_PROJ_C -> { in = s.dInner(); out = s.dState(); }
                case DT_PROJ -> { in = s.dtRank(); out = s.dInner(); }
                case OUT_PROJ -> { in = s.dInner(); out = s.dModel(); }
                case HEAD -> { in = s.dModel(); out = s.vocab(); }
                default -> throw new AssertionError(p);
            }
            total += c.rank() * (in + out) * (p == Projection.HEAD ? 1 : layers);
        }
        return total;
    }

    @Test
    void thePaperBaselineOnMamba130mHas1204224Parameters() {
        assertThat(count(LoraConfig.DEFAULT, ModelShape.preset("mamba-130m").orElseThrow(), LayerSelection.ALL))
                .isEqualTo(1_204_224);
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
                        + " out_proj, head");
    }
}
