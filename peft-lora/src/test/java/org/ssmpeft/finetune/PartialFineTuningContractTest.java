package org.ssmpeft.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

class PartialFineTuningContractTest extends PeftMethodContract {

    private static final PartialFineTuningConfig EVERY_LAYER_TENSOR = everyLayerTensor(ModelFamily.MAMBA);
    private static final PartialFineTuningConfig EVERY_MAMBA2_LAYER_TENSOR = everyLayerTensor(ModelFamily.MAMBA2);
    private static final PartialFineTuningConfig A_D_DT_BIAS = new PartialFineTuningConfig(
            List.of(LayerParameter.A_LOG, LayerParameter.D, LayerParameter.DT_BIAS), List.of());

    private static PartialFineTuningConfig everyLayerTensor(ModelFamily family) {
        return new PartialFineTuningConfig(Arrays.stream(LayerParameter.values()).filter(p -> p.existsIn(family))
                .toList(), List.of(ModelParameter.EMBEDDINGS_WEIGHT, ModelParameter.NORM_F_WEIGHT));
    }
    private static final PartialFineTuningConfig NORMS_ONLY = new PartialFineTuningConfig(
            List.of(LayerParameter.D, LayerParameter.NORM_WEIGHT), List.of(ModelParameter.NORM_F_WEIGHT));
    private static final PartialFineTuningConfig HEAD_ONLY = new PartialFineTuningConfig(List.of(),
            List.of(ModelParameter.LM_HEAD_WEIGHT));

    @Override
    protected String methodName() {
        return "partial-ft";
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
        return List.of(EVERY_LAYER_TENSOR, EVERY_MAMBA2_LAYER_TENSOR, A_D_DT_BIAS, NORMS_ONLY, HEAD_ONLY);
    }

    /**
     * Σ per-layer tensor sizes × selected layers + Σ model-wide sizes; Mamba-2: A_log, D, dt_bias per head (H), the
     * conv over D + 2GN channels, in_proj D + (D + 2GN) + H wide, the gated norm D.
     */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (PartialFineTuningConfig) config;
        long d = s.dModel();
        long di = s.dInner();
        long perLayer = 0;
        long h = s.heads();
        long conv = di + 2L * s.groups() * s.dState();
        for (LayerParameter p : c.layerParameters()) {
            perLayer += s.family() == ModelFamily.MAMBA2 ? switch (p) {
                case A_LOG, D, DT_BIAS -> h;
                case CONV1D_BIAS -> conv;
                case CONV1D_WEIGHT -> conv * s.convKernel();
                case IN_PROJ_WEIGHT -> (di + conv + h) * d;
                case IN_PROJ_BIAS -> di + conv + h;
                case GATE_NORM_WEIGHT -> di;
                case OUT_PROJ_WEIGHT -> d * di;
                case OUT_PROJ_BIAS, NORM_WEIGHT -> d;
                case X_PROJ_WEIGHT, DT_PROJ_WEIGHT, DT_PROJ_BIAS -> throw new AssertionError(p + " on Mamba-2");
            } : switch (p) {
                case A_LOG -> di * s.dState();
                case D, CONV1D_BIAS, DT_PROJ_BIAS -> di;
                case CONV1D_WEIGHT -> di * s.convKernel();
                case IN_PROJ_WEIGHT -> 2 * di * d;
                case IN_PROJ_BIAS -> 2 * di;
                case X_PROJ_WEIGHT -> (s.dtRank() + 2L * s.dState()) * di;
                case DT_PROJ_WEIGHT -> di * s.dtRank();
                case OUT_PROJ_WEIGHT -> d * di;
                case OUT_PROJ_BIAS, NORM_WEIGHT -> d;
                case DT_BIAS, GATE_NORM_WEIGHT -> throw new AssertionError(p + " on Mamba-1");
            };
        }
        long wide = 0;
        for (ModelParameter p : c.modelParameters()) {
            wide += p == ModelParameter.NORM_F_WEIGHT ? d : (long) s.vocab() * d;
        }
        return perLayer * layers + wide;
    }

    @Test
    void onMamba130mEveryTensorIsTheWholeModelPlusTheOptionalLinearBiases() {
        ModelShape m130 = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(count(EVERY_LAYER_TENSOR, m130, LayerSelection.ALL)).isEqualTo(m130.baseParameterCount()
                + 24L * (2 * 1536 + 768));
        assertThat(count(PartialFineTuningConfig.DEFAULT, m130, LayerSelection.ALL)).isEqualTo(24L * 1536 * 17);
    }

    @Test
    void theDefaultIsADTuningOnEveryLayer() {
        var hook = (ParameterHook) adapter(PartialFineTuningConfig.DEFAULT, ModelShape.preset("mamba-tiny")
                .orElseThrow(), LayerSelection.ALL);
        assertThat(hook.parameterDeltaNames()).containsExactly("backbone.layers.0.mixer.A_log",
                "backbone.layers.0.mixer.D", "backbone.layers.1.mixer.A_log", "backbone.layers.1.mixer.D");
        assertThat(hook.parameterDelta("backbone.layers.1.mixer.A_log").orElseThrow().shape())
                .containsExactly(128, 16);
    }

    @Test
    void tensorsHaveTheirStoredShapes() {
        var hook = (ParameterHook) adapter(EVERY_LAYER_TENSOR, ModelShape.preset("mamba-tiny").orElseThrow(),
                LayerSelection.of(0));
        assertThat(hook.parameterDelta("backbone.layers.0.mixer.conv1d.weight").orElseThrow().shape())
                .containsExactly(128, 1, 4);
        assertThat(hook.parameterDelta("backbone.layers.0.norm.weight").orElseThrow().shape()).containsExactly(64);
        assertThat(hook.parameterDelta("backbone.embeddings.weight").orElseThrow().shape()).containsExactly(256, 64);
        assertThat(hook.parameterDelta("backbone.layers.1.mixer.D")).isEmpty();
    }

    @Test
    void onMamba2TheDefaultTrainsThePerHeadALogAndDAndDtBiasIsOptIn() {
        ModelShape m2 = ModelShape.preset("mamba2-tiny").orElseThrow();
        var hook = (ParameterHook) adapter(PartialFineTuningConfig.DEFAULT, m2, LayerSelection.of(1));
        assertThat(hook.parameterDeltaNames()).containsExactly("backbone.layers.1.mixer.A_log",
                "backbone.layers.1.mixer.D");
        assertThat(hook.parameterDelta("backbone.layers.1.mixer.A_log").orElseThrow().shape())
                .containsExactly(m2.heads());
        var withDt = (ParameterHook) adapter(A_D_DT_BIAS, m2, LayerSelection.of(0));
        assertThat(withDt.parameterDeltaNames()).containsExactly("backbone.layers.0.mixer.A_log",
                "backbone.layers.0.mixer.D", "backbone.layers.0.mixer.dt_bias");
        var every = (ParameterHook) adapter(EVERY_MAMBA2_LAYER_TENSOR, m2, LayerSelection.of(0));
        assertThat(every.parameterDelta("backbone.layers.0.mixer.conv1d.weight").orElseThrow().shape())
                .containsExactly(m2.convChannels(), 1, m2.convKernel());
        assertThat(every.parameterDelta("backbone.layers.0.mixer.norm.weight").orElseThrow().shape())
                .containsExactly(m2.dInner());
    }

    @Test
    void aTensorTheFamilyLacksIsRefusedNamingThoseItHas() {
        var provider = new PartialFineTuningProvider();
        assertThat(provider.validate(EVERY_LAYER_TENSOR, ModelShape.preset("mamba2-tiny").orElseThrow()))
                .extracting(Object::toString).containsExactly(
                        "layer_parameters: 'x_proj.weight' is not a tensor of a mamba2 block; expected some of"
                                + " norm.weight, in_proj.weight, in_proj.bias, conv1d.weight, conv1d.bias, dt_bias,"
                                + " A_log, D, mixer.norm.weight, out_proj.weight, out_proj.bias",
                        "layer_parameters: 'dt_proj.weight' is not a tensor of a mamba2 block; expected some of"
                                + " norm.weight, in_proj.weight, in_proj.bias, conv1d.weight, conv1d.bias, dt_bias,"
                                + " A_log, D, mixer.norm.weight, out_proj.weight, out_proj.bias",
                        "layer_parameters: 'dt_proj.bias' is not a tensor of a mamba2 block; expected some of"
                                + " norm.weight, in_proj.weight, in_proj.bias, conv1d.weight, conv1d.bias, dt_bias,"
                                + " A_log, D, mixer.norm.weight, out_proj.weight, out_proj.bias");
        assertThat(provider.validate(A_D_DT_BIAS, ModelShape.preset("mamba-tiny").orElseThrow()))
                .singleElement().hasToString("layer_parameters: 'dt_bias' is not a tensor of a mamba block;"
                        + " expected some of norm.weight, in_proj.weight, in_proj.bias, conv1d.weight, conv1d.bias,"
                        + " x_proj.weight, dt_proj.weight, dt_proj.bias, A_log, D, out_proj.weight, out_proj.bias");
    }
}
