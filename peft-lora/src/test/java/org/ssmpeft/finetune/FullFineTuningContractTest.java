package org.ssmpeft.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelShape;

class FullFineTuningContractTest extends PeftMethodContract {

    private static final FullFineTuningConfig UNTIED_WITH_BIASES = new FullFineTuningConfig(false, true, true);
    private static final FullFineTuningConfig NO_CONV_BIAS = new FullFineTuningConfig(true, false, false);

    @Override
    protected String methodName() {
        return "full-ft";
    }

    /**
     * Small shapes only: an adapter here holds (a share of) every base tensor, 129M floats on Mamba-130M, which the
     * shared checks would allocate a dozen times; its count on Mamba-130M is checked below without allocating.
     */
    @Override
    protected List<ModelShape> shapes() {
        return List.of(ModelShape.preset("mamba-tiny").orElseThrow(), ModelShape.preset("mamba2-tiny").orElseThrow(),
                ModelShape.mamba(3, 40, 8, 97), ModelShape.mamba2(2, 32, 8, 16, 2, 50));
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(UNTIED_WITH_BIASES, NO_CONV_BIAS);
    }

    /**
     * The published-checkpoint count ({@link ModelShape#baseParameterCount()}: conv bias, no linear bias, tied head),
     * minus the conv biases when absent, plus in_proj/out_proj biases when present, plus an untied head.
     */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (FullFineTuningConfig) config;
        long n = s.baseParameterCount();
        if (!c.convBias()) {
            n -= (long) s.layers() * s.convChannels();
        }
        if (c.linearBiases()) {
            n += (long) s.layers() * (s.inProjWidth() + s.dModel());
        }
        if (!c.tiedHead()) {
            n += (long) s.vocab() * s.dModel();
        }
        return n;
    }

    @Test
    void onMamba130mItTrainsEveryOneOfTheBaseParameters() {
        assertThat(count(FullFineTuningConfig.DEFAULT, ModelShape.preset("mamba-130m").orElseThrow(),
                LayerSelection.ALL)).isEqualTo(129_135_360L);
    }

    @Test
    void anUntiedHeadGetsItsOwnDeltaATiedOneNone() {
        ModelShape tiny = ModelShape.preset("mamba-tiny").orElseThrow();
        var tied = (ParameterHook) adapter(FullFineTuningConfig.DEFAULT, tiny, LayerSelection.ALL);
        var untied = (ParameterHook) adapter(UNTIED_WITH_BIASES, tiny, LayerSelection.ALL);
        assertThat(tied.parameterDeltaNames()).doesNotContain("lm_head.weight").hasSize(1 + 2 * 10 + 1);
        assertThat(untied.parameterDeltaNames()).contains("lm_head.weight", "backbone.layers.1.mixer.in_proj.bias",
                "backbone.layers.1.mixer.out_proj.bias").hasSize(1 + 2 * 12 + 2);
    }

    @Test
    void theDescriptionSaysItDoublesWeightMemory() {
        assertThat(provider().description()).contains("doubles weight memory", "trainableBaseNames");
        assertThat(provider().perLayer()).isFalse();
    }

    @Test
    void mamba2TensorsAreNamedAsTransformersNamesThem() {
        var hook = (ParameterHook) adapter(FullFineTuningConfig.DEFAULT, ModelShape.preset("mamba2-tiny")
                .orElseThrow(), LayerSelection.ALL);
        assertThat(hook.parameterDeltaNames()).contains("backbone.layers.0.mixer.dt_bias",
                "backbone.layers.0.mixer.norm.weight", "backbone.layers.1.mixer.A_log");
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.A_log").orElseThrow().shape()).containsExactly(8);
    }
}
