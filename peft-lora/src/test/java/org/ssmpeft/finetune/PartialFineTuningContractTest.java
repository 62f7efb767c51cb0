package org.ssmpeft.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.shape.ModelShape;

class PartialFineTuningContractTest extends PeftMethodContract {

    private static final PartialFineTuningConfig EVERY_LAYER_TENSOR = new PartialFineTuningConfig(
            List.of(LayerParameter.values()), List.of(ModelParameter.EMBEDDINGS_WEIGHT, ModelParameter.NORM_F_WEIGHT));
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
        return List.of(EVERY_LAYER_TENSOR, NORMS_ONLY, HEAD_ONLY);
    }

    /** Σ per-layer tensor sizes × selected layers + Σ model-wide sizes (Mamba-1 shapes only). */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (PartialFineTuningConfig) config;
        long d = s.dModel();
        long di = s.dInner();
        long perLayer = 0;
        for (LayerParameter p : c.layerParameters()) {
            perLayer += switch (p) {
                case A_LOG -> di * s.dState();
                case D, CONV1D_BIAS, DT_PROJ_BIAS -> di;
                case CONV1D_WEIGHT -> di * s.convKernel();
                case IN_PROJ_WEIGHT -> 2 * di * d;
                case IN_PROJ_BIAS -> 2 * di;
                case X_PROJ_WEIGHT -> (s.dtRank() + 2L * s.dState()) * di;
                case DT_PROJ_WEIGHT -> di * s.dtRank();
                case OUT_PROJ_WEIGHT -> d * di;
                case OUT_PROJ_BIAS, NORM_WEIGHT -> d;
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
    void mamba2IsRefusedWithTheReason() {
        var problems = new PartialFineTuningProvider().validate(PartialFineTuningConfig.DEFAULT,
                ModelShape.preset("mamba2-tiny").orElseThrow());
        assertThat(problems).singleElement().hasToString("layer_parameters: partial-ft names Mamba-1 tensors (x_proj,"
                + " dt_proj, A_log of shape (d_inner, N)); a mamba2 model has other tensors and is not mapped: use"
                + " full-ft or bitfit on mamba2");
    }
}
