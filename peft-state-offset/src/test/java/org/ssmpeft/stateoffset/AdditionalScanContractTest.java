package org.ssmpeft.stateoffset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.contract.PeftMethodContract;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.StateExtensionHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

class AdditionalScanContractTest extends PeftMethodContract {

    private static final AdditionalScanConfig LOG_RANGE = new AdditionalScanConfig(3,
            AdditionalScanConfig.AInit.LOG_RANGE);

    @Override
    protected String methodName() {
        return "additional-scan";
    }

    @Override
    protected List<Record> sampleConfigs() {
        return List.of(LOG_RANGE, new AdditionalScanConfig(1, AdditionalScanConfig.AInit.REFERENCE));
    }

    /** Lyr·3·n'·D: a' (D, n'), E_B (n', D), E_C (n', D) per layer. */
    @Override
    protected long expectedParameterCount(Record config, ModelShape s, int layers) {
        long n = ((AdditionalScanConfig) config).nExtra();
        long decayRows = s.family() == org.ssmpeft.api.shape.ModelFamily.MAMBA2 ? s.heads() : s.dInner();
        return layers * n * (decayRows + 2L * s.dInner()); // a' (rows, n'), E_B and E_C (n', D)
    }

    private static final ModelShape M130 = ModelShape.preset("mamba-130m").orElseThrow();

    @Test
    void mamba130mHasTheCountOfThePaperSetup() {
        assertThat(count(AdditionalScanConfig.DEFAULT, M130, LayerSelection.ALL)).isEqualTo(884_736);
    }

    @Test
    void feedsTheStateExtensionHookWithTheLayersTensors() {
        var a = adapter(AdditionalScanConfig.DEFAULT, M130, LayerSelection.of(2));
        assertThat(a.hooks()).containsExactly(HookKind.STATE_EXTENSION);
        var hook = (StateExtensionHook) a;
        assertThat(hook.stateExtension(0)).isEmpty();
        var e = hook.stateExtension(2).orElseThrow();
        assertThat(e.width()).isEqualTo(8);
        assertThat(e.logDecay()).isSameAs(a.parameter("layers.2.a_extra"));
        assertThat(e.inputMap()).isSameAs(a.parameter("layers.2.b_extra"));
        assertThat(e.readOut()).isSameAs(a.parameter("layers.2.c_extra"));
        assertThat(e.logDecay().shape()).containsExactly(1536, 8);
        assertThat(e.inputMap().shape()).containsExactly(8, 1536);
        assertThat(e.readOut().shape()).containsExactly(8, 1536);
    }

    @Test
    void readOutStartsAtZeroAndTheInputMapKaimingUniform() {
        var a = adapter(AdditionalScanConfig.DEFAULT, M130, LayerSelection.of(0));
        assertThat(a.parameter("layers.0.c_extra").isZero()).isTrue();
        float bound = (float) (1 / Math.sqrt(1536)); // kaiming_uniform_(a=√5) on (n', D): 1/sqrt(fan_in)
        Tensor b = a.parameter("layers.0.b_extra");
        assertThat(b.isZero()).isFalse();
        for (float v : b.data()) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo(bound);
        }
    }

    @Test
    void referenceInitSetsEveryLogDecayToN() {
        // what the reference code does: a' = the stored S4D-real A's last column, N before the log
        var a = adapter(AdditionalScanConfig.DEFAULT, M130, LayerSelection.of(0));
        for (float v : a.parameter("layers.0.a_extra").data()) {
            assertThat(v).isEqualTo(16f);
        }
    }

    @Test
    void logRangeInitContinuesTheS4dRealLogDecays() {
        var a = adapter(LOG_RANGE, M130, LayerSelection.of(0));
        float[] d = a.parameter("layers.0.a_extra").data();
        for (int row = 0; row < 1536; row += 511) {
            for (int j = 0; j < 3; j++) {
                assertThat(d[row * 3 + j]).isCloseTo((float) Math.log(17 + j), within(1e-6f));
            }
        }
    }

    @Test
    void noParameterIsWeightDecayed() {
        var a = adapter(AdditionalScanConfig.DEFAULT, ModelShape.preset("mamba-tiny").orElseThrow(),
                LayerSelection.ALL);
        assertThat(a.parameterSpecs()).allSatisfy(s -> assertThat(s.weightDecay()).isFalse());
    }

    /** On Mamba-2 the extra dimensions extend each head's state: a' (H, n'), E_B and E_C (n', D). */
    @Test
    void onMamba2TheLogDecaysArePerHead() {
        ModelShape m2 = ModelShape.preset("mamba2-tiny").orElseThrow();
        assertThat(problemsFor(AdditionalScanConfig.DEFAULT, m2)).isEmpty();
        var hook = (StateExtensionHook) adapter(AdditionalScanConfig.DEFAULT, m2, LayerSelection.of(1));
        var e = hook.stateExtension(1).orElseThrow();
        assertThat(e.logDecay().shape()).containsExactly(m2.heads(), 8);
        assertThat(e.inputMap().shape()).containsExactly(8, m2.dInner());
        assertThat(e.readOut().shape()).containsExactly(8, m2.dInner());
        assertThat(hook.stateExtension(0)).isEmpty();
    }

    @Test
    void aStateExtensionWithMismatchedShapesIsRefused() {
        assertThatThrownBy(() -> new StateExtensionHook.StateExtension(Tensor.zeros(4, 2), Tensor.zeros(2, 4),
                Tensor.zeros(3, 4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a'(4, 2), E_B(2, 4), E_C(3, 4)");
    }
}
