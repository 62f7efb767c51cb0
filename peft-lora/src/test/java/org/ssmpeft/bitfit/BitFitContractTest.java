package org.ssmpeft.bitfit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

class BitFitContractTest extends PeftMethodContract {

    private static final BitFitConfig ALL = new BitFitConfig(List.of(BiasTerm.values()));
    private static final BitFitConfig DT_ONLY = new BitFitConfig(List.of(BiasTerm.DT_PROJ_BIAS));

    @Override
    protected String methodName() {
        return "bitfit";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(ALL, DT_ONLY, new BitFitConfig(List.of(BiasTerm.D, BiasTerm.CONV1D_BIAS)));
    }

    /**
     * Per selected layer, per bias: Mamba-1 conv D, dt D, skip D, in_proj 2D, out_proj d; Mamba-2 conv D + 2GN,
     * dt_bias H, skip H, in_proj 2D + 2GN + H, out_proj d.
     */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        long perLayer = 0;
        boolean m1 = s.family() == ModelFamily.MAMBA;
        long gn = 2L * s.groups() * s.dState();
        for (BiasTerm t : ((BitFitConfig) config).biases()) {
            perLayer += switch (t) {
                case CONV1D_BIAS -> m1 ? s.dInner() : s.dInner() + gn;
                case DT_PROJ_BIAS, D -> m1 ? s.dInner() : s.heads();
                case IN_PROJ_BIAS -> m1 ? 2L * s.dInner() : 2L * s.dInner() + gn + s.heads();
                case OUT_PROJ_BIAS -> s.dModel();
            };
        }
        return perLayer * layers;
    }

    @Test
    void theDefaultOnMamba130mTrainsConvBiasDtBiasAndDOfEveryLayer() {
        ModelShape m130 = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(count(BitFitConfig.DEFAULT, m130, LayerSelection.ALL)).isEqualTo(24L * 3 * 1536);
    }

    @Test
    void deltasAreKeyedByTheHuggingFaceNamesOfTheSelectedLayers() {
        var a = adapter(BitFitConfig.DEFAULT, ModelShape.preset("mamba-tiny").orElseThrow(), LayerSelection.of(1));
        var hook = (ParameterHook) a;
        assertThat(hook.parameterDeltaNames()).containsExactly("backbone.layers.1.mixer.conv1d.bias",
                "backbone.layers.1.mixer.dt_proj.bias", "backbone.layers.1.mixer.D");
        assertThat(hook.parameterDelta("backbone.layers.1.mixer.D").orElseThrow().shape()).containsExactly(128);
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.D")).isEmpty();
        assertThat(a.parameterSpecs()).allSatisfy(s -> {
            assertThat(s.initializer().isZero()).isTrue();
            assertThat(s.weightDecay()).isFalse();
            assertThat(s.layer()).hasValue(1);
        });
    }

    @Test
    void onMamba2TheDtBiasAndDArePerHead() {
        var hook = (ParameterHook) adapter(BitFitConfig.DEFAULT, ModelShape.preset("mamba2-tiny").orElseThrow(),
                LayerSelection.ALL);
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.dt_bias").orElseThrow().shape()).containsExactly(8);
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.D").orElseThrow().shape()).containsExactly(8);
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.conv1d.bias").orElseThrow().shape())
                .containsExactly(128 + 2 * 16);
    }

    @Test
    void anEmptyOrRepeatedListIsRefused() {
        assertThatThrownBy(() -> new BitFitConfig(List.of())).isInstanceOf(InvalidFieldException.class)
                .hasMessageContaining("at least one bias");
        assertThatThrownBy(() -> new BitFitConfig(List.of(BiasTerm.D, BiasTerm.D)))
                .isInstanceOf(InvalidFieldException.class).hasMessageContaining("listed twice");
    }
}
