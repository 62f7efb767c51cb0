package org.ssmpeft.stateoffset;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.InitialStateHook;
import org.ssmpeft.api.shape.ModelShape;

class InitialStateContractTest extends PeftMethodContract {

    @Override
    protected String methodName() {
        return "initial-state";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(new InitialStateConfig(StateInit.KAIMING_UNIFORM));
    }

    /** Lyr·D·N. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        return (long) layers * s.dInner() * s.dState();
    }

    @Test
    void feedsTheInitialStateHookPerLayer() {
        var a = adapter(InitialStateConfig.DEFAULT, ModelShape.preset("mamba-130m").orElseThrow(), LayerSelection.ALL);
        assertThat(a.hooks()).containsExactly(HookKind.INITIAL_STATE);
        assertThat(a.parameterCount()).isEqualTo(589_824);
        assertThat(((InitialStateHook) a).initialState(23).orElseThrow().shape()).containsExactly(1536, 16);
    }
}
