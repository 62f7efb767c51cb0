package org.ssmpeft.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelShape;

class PromptContractTest extends PeftMethodContract {

    @Override
    protected String methodName() {
        return "prompt";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(new PromptConfig(5, 0.5), new PromptConfig(1, 0));
    }

    /** n·d_model. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        return (long) ((PromptConfig) config).numVirtualTokens() * s.dModel();
    }

    @Test
    void prependsTokensAtTheEmbedding() {
        var a = adapter(new PromptConfig(5, 0.02), ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.ALL);
        var hook = (InputHook) a;
        assertThat(hook.placement()).isEqualTo(InputHook.Placement.EMBEDDING);
        assertThat(hook.virtualTokenCount()).isEqualTo(5);
        assertThat(hook.virtualTokens(-1).orElseThrow()).isSameAs(a.parameter("prompt_embeddings"));
        assertThat(a.parameter("prompt_embeddings").shape()).containsExactly(5, 64);
    }
}
