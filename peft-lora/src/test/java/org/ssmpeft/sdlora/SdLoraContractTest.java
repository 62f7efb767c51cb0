package org.ssmpeft.sdlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.WarmUp;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelShape;

class SdLoraContractTest extends PeftMethodContract {

    /** Fits ModelShape.mamba(3, 40, 8, 97) alone: D 80, N 8, so D' = 80 - round(78) = 2 and N' = 8 - 6 = 2. */
    static final SdLoraConfig SELECTED = new SdLoraConfig(2, 4, List.of(Projection.OUT_PROJ), 0.975, 0.75, 10,
            List.of(List.of(5, 79), List.of(0, 1), List.of(40, 3)),
            List.of(List.of(7, 0, 1, 2), List.of(0, 1, 2, 3), List.of(3, 4, 5, 6)));
    static final SdLoraConfig HALF = new SdLoraConfig(2, 4, List.of(Projection.OUT_PROJ), 0.5, 0.5, 10, List.of(),
            List.of());
    static final SdLoraConfig IN_AND_OUT = new SdLoraConfig(4, 8, List.of(Projection.IN_PROJ_X, Projection.OUT_PROJ),
            0.9, 0.25, 500, List.of(), List.of());

    @Override
    protected String methodName() {
        return "sdlora";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(SELECTED, HALF, IN_AND_OUT);
    }

    /** LoRA's Σ r·(in + out) per target, plus D'·N' + 2·N·D' per layer. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        var c = (SdLoraConfig) config;
        long lora = 0;
        for (Projection p : c.targets()) {
            lora += c.rank() * switch (p) {
                case OUT_PROJ -> (long) s.dInner() + s.dModel();
                case IN_PROJ_X, IN_PROJ_Z -> (long) s.dModel() + s.dInner();
                case IN_PROJ -> (long) s.dModel() + 2L * s.dInner();
                default -> throw new AssertionError(p);
            };
        }
        long k = Math.max(1, s.dInner() - Math.round(c.channelFreeze() * s.dInner()));
        long n = Math.max(1, s.dState() - Math.round(c.stateFreeze() * s.dState()));
        return layers * (lora + k * n + 2L * s.dState() * k);
    }

    @Test
    void onMamba130mTheDefaultTrains15ChannelsAnd4StatesPerLayerBesideLoraOnOutProj() {
        ModelShape m130 = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(SdLoraConfig.DEFAULT.channels(1536)).isEqualTo(15);
        assertThat(SdLoraConfig.DEFAULT.states(16)).isEqualTo(4);
        assertThat(count(SdLoraConfig.DEFAULT, m130, LayerSelection.ALL)).isEqualTo(24L * (8 * (1536 + 768)
                + 15 * 4 + 2 * 16 * 15)).isEqualTo(455_328L);
    }

    @Test
    void theLoraHalfIsTheLoraMethodsDeltaOnTheAdaptersOwnTensors() {
        ModelShape tiny = ModelShape.preset("mamba-tiny").orElseThrow();
        var a = adapter(SdLoraConfig.DEFAULT, tiny, LayerSelection.ALL);
        var d = ((ProjectionHook) a).delta(1, Projection.OUT_PROJ).orElseThrow();
        assertThat(d.a()).isSameAs(a.parameter("layers.1.out_proj.lora_A"));
        assertThat(d.b()).isSameAs(a.parameter("layers.1.out_proj.lora_B"));
        assertThat(d.scaling()).isEqualTo(1f);
        assertThat(((ProjectionHook) a).delta(1, Projection.X_PROJ)).isEmpty();
    }

    @Test
    void theSdtDeltasAreTheSparseTensorsScatteredAtTheSelectionAndZeroElsewhere() {
        ModelShape s = ModelShape.mamba(3, 40, 8, 97); // D 80, N 8, R 3
        var a = adapter(SELECTED, s, LayerSelection.of(0, 2));
        float[] p = a.parameter("layers.0.A_log.sdt").data(); // (2, 2)
        float[] qb = a.parameter("layers.0.x_proj.B.sdt").data(); // (8, 2)
        float[] qc = a.parameter("layers.0.x_proj.C.sdt").data();
        for (int i = 0; i < p.length; i++) {
            p[i] = 1 + i;
        }
        for (int i = 0; i < qb.length; i++) {
            qb[i] = 10 + i;
            qc[i] = 100 + i;
        }
        a.refreshDerived();
        var hook = (ParameterHook) a;
        assertThat(hook.parameterDeltaNames()).containsExactly("backbone.layers.0.mixer.A_log",
                "backbone.layers.0.mixer.x_proj.weight", "backbone.layers.2.mixer.A_log",
                "backbone.layers.2.mixer.x_proj.weight");
        float[] aLog = hook.parameterDelta("backbone.layers.0.mixer.A_log").orElseThrow().data(); // (80, 8)
        // channel 5 keeps states 7, 0; channel 79 states 1, 2
        assertThat(aLog[5 * 8 + 7]).isEqualTo(1f);
        assertThat(aLog[5 * 8]).isEqualTo(2f);
        assertThat(aLog[79 * 8 + 1]).isEqualTo(3f);
        assertThat(aLog[79 * 8 + 2]).isEqualTo(4f);
        assertThat(nonZero(aLog)).isEqualTo(4);
        float[] x = hook.parameterDelta("backbone.layers.0.mixer.x_proj.weight").orElseThrow().data(); // (19, 80)
        int r = s.dtRank();
        assertThat(x[(r + 3) * 80 + 5]).isEqualTo(qb[3 * 2]);
        assertThat(x[(r + 3) * 80 + 79]).isEqualTo(qb[3 * 2 + 1]);
        assertThat(x[(r + 8 + 7) * 80 + 79]).isEqualTo(qc[7 * 2 + 1]);
        assertThat(nonZero(x)).isEqualTo(2 * 8 * 2);
        for (int col = 0; col < 80; col++) {
            for (int row = 0; row < r; row++) {
                assertThat(x[row * 80 + col]).as("dt row %d", row).isZero();
            }
        }
    }

    private static int nonZero(float[] v) {
        int n = 0;
        for (float f : v) {
            n += f != 0 ? 1 : 0;
        }
        return n;
    }

    @Test
    void theWarmUpsALogChangeChoosesTheSelectionWhichTheConfigThenRecords() {
        ModelShape s = ModelShape.mamba(2, 8, 4, 11); // D 16, N 4
        var a = adapter(HALF, s, LayerSelection.of(1)); // D' 8, N' 2
        var warm = (WarmUp) a;
        assertThat(warm.needsWarmUp()).isTrue();
        assertThat(warm.warmUpSteps()).isEqualTo(10);
        var adapters = warm.warmUpAdapters();
        assertThat(adapters).extracting(x -> x.method()).containsExactly("lora", "partial-ft");
        assertThat(adapters.getFirst().parameter("layers.1.out_proj.lora_A").data())
                .containsExactly(a.parameter("layers.1.out_proj.lora_A").data());
        float[] delta = adapters.get(1).parameter("backbone.layers.1.mixer.A_log").data(); // (16, 4)
        for (int c = 0; c < 16; c++) {
            delta[c * 4 + c % 4] = c < 8 ? 0.1f * c : -0.1f * c; // channels 8..15 change most, by their index
            delta[c * 4 + (c + 1) % 4] = 0.01f;
        }
        warm.select(adapters);
        assertThat(warm.needsWarmUp()).isFalse();
        var chosen = (SdLoraConfig) a.config();
        assertThat(chosen.selectedChannels()).containsExactly(List.of(), List.of(15, 14, 13, 12, 11, 10, 9, 8));
        assertThat(chosen.selectedStates().get(1)).containsExactly(3, 0, 2, 3, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 0, 1);
        assertThat(new SdLoraProvider().problems(chosen, s)).isEmpty();
    }

    @Test
    void badSharesAndSelectionsAreRefusedNamingTheField() {
        assertThatThrownBy(() -> new SdLoraConfig(8, 8, List.of(Projection.OUT_PROJ), 1.0, 0.5, 5, List.of(),
                List.of())).isInstanceOfSatisfying(InvalidFieldException.class, e -> assertThat(e.field())
                .isEqualTo("channel_freeze")).hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> new SdLoraConfig(8, 8, List.of(), 0.5, 0.5, 5, List.of(), List.of()))
                .isInstanceOfSatisfying(InvalidFieldException.class, e -> assertThat(e.field()).isEqualTo("targets"));
        assertThatThrownBy(() -> new SdLoraProvider().parameterSpecs(HALF.withSelection(List.of(List.of(), List.of(0)),
                List.of(List.of(), List.of(0))), ModelShape.mamba(2, 1, 1, 5), LayerSelection.ALL))
                .hasMessage("selected_channels[0]: layer 0 is adapted but has no selected channels");
        ModelShape s = ModelShape.mamba(3, 40, 8, 97);
        var outOfRange = new SdLoraConfig(2, 4, List.of(Projection.OUT_PROJ), 0.975, 0.75, 10,
                List.of(List.of(5, 80), List.of(), List.of(40, 3)),
                List.of(List.of(7, 0, 1, 1), List.of(), List.of(3, 4, 5, 6)));
        assertThat(new SdLoraProvider().problems(outOfRange, s)).extracting(Object::toString).containsExactly(
                "selected_channels[0]: expected 2 distinct channels in 0..79 (channel_freeze 0.975 of 80), found"
                        + " [5, 80]",
                "selected_states[0]: expected 2 distinct states in 0..7 for each of 2 channels (4 indices), found"
                        + " [7, 0, 1, 1]");
        assertThat(new SdLoraProvider().problems(SELECTED, ModelShape.preset("mamba2-tiny").orElseThrow()))
                .singleElement().hasToString("method: method 'sdlora' supports [mamba] models, not mamba2 ("
                        + ModelShape.preset("mamba2-tiny").orElseThrow().describe() + ")");
    }
}
