package com.example.lowrank;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigException;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.composition.AdapterFactory;

/** The framework's method contract, run for the plugin, plus what is particular to a low-rank offset. */
class LowRankStateOffsetContractTest extends PeftMethodContract {

    private static final ModelShape TINY = ModelShape.preset("mamba-tiny").orElseThrow();

    @Override
    protected String methodName() {
        return "state-offset-lowrank";
    }

    /** Rank 1, and rank 16 = N of most shapes (refused on the N = 8 shape, which the contract then leaves out). */
    @Override
    protected List<Record> sampleConfigs() {
        return List.of(new LowRankStateOffsetConfig(1), new LowRankStateOffsetConfig(16));
    }

    /** Lyr·r·(D + N): U (D, r) and V (r, N) per layer. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        return (long) layers * ((LowRankStateOffsetConfig) config).rank() * (s.dInner() + s.dState());
    }

    @Test
    void mamba130mAtRank4HasAQuarterOfTheFullOffsetsParameters() {
        ModelShape m130 = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(count(LowRankStateOffsetConfig.DEFAULT, m130, LayerSelection.ALL)).isEqualTo(148_992);
    }

    @Test
    void theHookHandsOutAStateShapedOffsetForSelectedLayersOnly() {
        var a = adapter(LowRankStateOffsetConfig.DEFAULT, TINY, LayerSelection.of(1));
        assertThat(a.hooks()).containsExactly(HookKind.STATE_OFFSET);
        StateOffsetHook hook = (StateOffsetHook) a;
        assertThat(hook.stateOffset(0)).isEmpty();
        assertThat(hook.stateOffset(1).orElseThrow().shape()).containsExactly(128, 16);
        assertThat(a.parameters().keySet()).containsExactly("layers.1.state_offset_u", "layers.1.state_offset_v");
    }

    @Test
    void onMamba2TheOffsetHasTheHeadStateShape() {
        ModelShape m2 = ModelShape.preset("mamba2-tiny").orElseThrow();
        var hook = (StateOffsetHook) adapter(LowRankStateOffsetConfig.DEFAULT, m2, LayerSelection.ALL);
        assertThat(hook.stateOffset(0).orElseThrow().shape()).containsExactly(8, 16, 16);
    }

    @Test
    void uStartsAtZeroAndVKaimingUniformAsTheReferencesLowRankOption() {
        var a = adapter(LowRankStateOffsetConfig.DEFAULT, TINY, LayerSelection.ALL);
        assertThat(a.parameterSpecs()).filteredOn(s -> s.name().endsWith("_u"))
                .allSatisfy(s -> assertThat(s.initializer()).isEqualTo(new Initializer.Zeros()));
        assertThat(a.parameterSpecs()).filteredOn(s -> s.name().endsWith("_v"))
                .allSatisfy(s -> assertThat(s.initializer()).isEqualTo(Initializer.KaimingUniform.LINEAR_DEFAULT));
        // bound 1/sqrt(fan_in) = 1/sqrt(r) for V (r, N)
        float maxAbs = 0;
        for (float x : a.parameter("layers.0.state_offset_v").data()) {
            maxAbs = Math.max(maxAbs, Math.abs(x));
        }
        assertThat(maxAbs).isLessThanOrEqualTo((float) (1 / Math.sqrt(4)));
        assertThat(((StateOffsetHook) a).stateOffset(0).orElseThrow().isZero()).as("h' = 0·V").isTrue();
        assertThat(a.parameterSpecs()).allSatisfy(s -> assertThat(s.weightDecay()).isFalse());
    }

    @Test
    void aRankAboveTheStateSizeIsRefusedWithTheLimit() {
        var config = new AdapterConfig("too-wide", methodName(), LayerSelection.ALL, new LowRankStateOffsetConfig(17));
        assertThatThrownBy(() -> new AdapterFactory(methods()).create(config, TINY, AdapterFactory.seeded(1)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("rank")
                .hasMessageContaining("at most d_state = 16")
                .hasMessageContaining("found 17");
    }
}
