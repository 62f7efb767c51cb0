package org.ssmpeft.stateoffset;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.contract.PeftMethodContract;

class StateOffsetContractTest extends PeftMethodContract {

    private static final StateOffsetConfig Y = new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO);
    private static final StateOffsetConfig H_RANDOM = new StateOffsetConfig(StateOffsetConfig.Variant.H,
            StateInit.NORMAL);

    @Override
    protected String methodName() {
        return "state-offset";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(Y, H_RANDOM, new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.NORMAL));
    }

    /** h: Lyr·D·N; y: Lyr·D. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (StateOffsetConfig) config;
        return c.variant() == StateOffsetConfig.Variant.H ? (long) layers * s.dInner() * s.dState()
                : (long) layers * s.dInner();
    }

    @Test
    void mamba130mHasTheCountsOfThePaperSetup() {
        ModelShape m130 = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(count(StateOffsetConfig.DEFAULT, m130, LayerSelection.ALL)).isEqualTo(589_824);
        assertThat(count(Y, m130, LayerSelection.ALL)).isEqualTo(36_864);
    }

    @Test
    void variantHFeedsTheStateOffsetHookWithStateShapedTensors() {
        ModelShape tiny = ModelShape.preset("mamba-tiny").orElseThrow();
        var a = adapter(StateOffsetConfig.DEFAULT, tiny, LayerSelection.of(1));
        assertThat(a.hooks()).containsExactly(HookKind.STATE_OFFSET);
        StateOffsetHook hook = (StateOffsetHook) a;
        assertThat(hook.stateOffset(0)).isEmpty();
        assertThat(hook.stateOffset(1)).hasValueSatisfying(t -> assertThat(t.shape()).containsExactly(128, 16));
        assertThat(hook.stateOffset(1).orElseThrow()).isSameAs(a.parameter("layers.1.state_offset"));
    }

    @Test
    void onMamba2TheOffsetHasTheHeadStateShape() {
        ModelShape m2 = ModelShape.preset("mamba2-tiny").orElseThrow();
        var hook = (StateOffsetHook) adapter(StateOffsetConfig.DEFAULT, m2, LayerSelection.ALL);
        assertThat(hook.stateOffset(0).orElseThrow().shape()).containsExactly(8, 16, 16);
    }

    @Test
    void variantYFeedsTheOutputOffsetHook() {
        var a = adapter(Y, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        assertThat(a.hooks()).containsExactly(HookKind.OUTPUT_OFFSET);
        assertThat(((OutputOffsetHook) a).outputOffset(0).orElseThrow().shape()).containsExactly(128);
    }

    @Test
    void kaimingInitIsRefusedForTheVectorVariant() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new StateOffsetConfig(StateOffsetConfig.Variant.Y,
                        StateInit.KAIMING_UNIFORM))
                .isInstanceOf(org.ssmpeft.api.config.InvalidFieldException.class)
                .hasMessageContaining("y' is a vector");
    }

    @Test
    void offsetsAreExemptFromWeightDecay() {
        var a = adapter(StateOffsetConfig.DEFAULT, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        assertThat(a.parameterSpecs()).allSatisfy(s -> assertThat(s.weightDecay()).isFalse());
    }
}
