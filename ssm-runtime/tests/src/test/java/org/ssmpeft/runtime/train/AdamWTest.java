package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.tensor.Tensor;

/**
 * AdamW against steps computed by hand with PyTorch's formulas (torch.optim.AdamW, amsgrad off):
 *
 * <pre>
 * θ ← θ·(1 − lr·λ)                                 (decayed parameters only)
 * m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
 * θ ← θ − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + ε)
 * </pre>
 *
 * lr = 0.1, β = (0.9, 0.999), ε = 1e-8; θ0 = (1, −2); gradients g1 = (0.5, −1), g2 = (−0.25, 2), g3 = (1, 0).
 * Tolerance 1e-6: float32 arithmetic against decimals rounded to 7 places.
 */
class AdamWTest {

    private static final float[][] GRADIENTS = {{0.5f, -1f}, {-0.25f, 2f}, {1f, 0f}};

    /*
     * Without decay.
     * t=1: m = 0.1·g1 = (0.05, −0.1); v = 0.001·g1² = (0.00025, 0.001); m̂ = m/0.1 = (0.5, −1); v̂ = v/0.001 = (0.25, 1)
     *      θ = (1, −2) − 0.1·(0.5/0.5, −1/1) = (0.9, −1.9)                       (ε shifts the 9th decimal)
     * t=2: m = 0.9·m + 0.1·g2 = (0.02, 0.11); v = 0.999·v + 0.001·g2² = (0.00031225, 0.004999)
     *      1 − β1² = 0.19, 1 − β2² = 0.001999: m̂ = (0.1052632, 0.5789474), sqrt(v̂) = (0.3952264, 1.5813758)
     *      θ = (0.9 − 0.0266337, −1.9 − 0.0366104) = (0.8733663, −1.9366104)
     * t=3: m = (0.118, 0.099); v = (0.0013119378, 0.004994001); 1 − β1³ = 0.271, 1 − β2³ = 0.002997001
     *      m̂ = (0.4354244, 0.3653137), sqrt(v̂) = (0.6616273, 1.2908651)
     *      θ = (0.8733663 − 0.0658111, −1.9366104 − 0.0282999) = (0.8075551, −1.9649103)
     */
    @Test
    void threeStepsWithoutDecayMatchTheHandComputation() {
        var p = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[] {1f, -2f}, 2), false);
        var adam = new AdamW(0.9, 0.999, 1e-8, 0.1); // λ is ignored: the parameter is not decayed
        float[][] expected = {{0.9f, -1.9f}, {0.8733663f, -1.9366104f}, {0.8075551f, -1.9649103f}};
        for (int t = 0; t < 3; t++) {
            adam.step(List.of(p), Map.of(p.key(), GRADIENTS[t].clone()), 0.1);
            assertThat(p.value().data()[0]).isCloseTo(expected[t][0], within(1e-6f));
            assertThat(p.value().data()[1]).isCloseTo(expected[t][1], within(1e-6f));
        }
        assertThat(adam.steps()).isEqualTo(3);
        assertThat(adam.state().get(p.key() + ".exp_avg").data()).containsExactly(new float[] {0.118f, 0.099f},
                within(1e-7f));
        assertThat(adam.state().get(p.key() + ".exp_avg_sq").data())
                .containsExactly(new float[] {0.0013119378f, 0.004994001f}, within(1e-9f));
    }

    /*
     * With decoupled decay λ = 0.1: θ is first multiplied by 1 − lr·λ = 0.99, the moment update is unchanged
     * (the decay never enters m or v).
     * t=1: θ = 0.99·(1, −2) − (0.1, −0.1) = (0.89, −1.88)
     * t=2: θ = 0.99·(0.89, −1.88) − (0.0266337, 0.0366104) = (0.8811 − 0.0266337, −1.8612 − 0.0366104)
     *        = (0.8544663, −1.8978104)
     * t=3: θ = 0.99·(0.8544663, −1.8978104) − (0.0658111, 0.0282999) = (0.7801105, −1.9071322)
     */
    /** A parameter group at 16 times the rate (LoRA+'s B) steps, decay included, as one at lr·16, bit for bit. */
    @Test
    void aParameterGroupsLearningRateScaleActsAsItsOwnLearningRate() {
        var scaled = TrainableParameter.ofAdapter("a", "lora_B", Tensor.of(new float[] {1f, -2f}, 2), true, 16);
        var plain = TrainableParameter.ofAdapter("b", "lora_B", Tensor.of(new float[] {1f, -2f}, 2), true);
        var unscaled = TrainableParameter.ofAdapter("a", "lora_A", Tensor.of(new float[] {1f, -2f}, 2), true);
        var one = AdamW.withWeightDecay(0.01);
        var other = AdamW.withWeightDecay(0.01);
        for (int t = 0; t < 3; t++) {
            one.step(List.of(scaled, unscaled), Map.of(scaled.key(), GRADIENTS[t].clone(), unscaled.key(),
                    GRADIENTS[t].clone()), 0.001);
            other.step(List.of(plain), Map.of(plain.key(), GRADIENTS[t].clone()), 0.016);
            assertThat(scaled.value().data()).isEqualTo(plain.value().data());
        }
        assertThat(unscaled.value().data()).as("A stays at the run's rate").isNotEqualTo(scaled.value().data());
        assertThat(Math.abs(1f - unscaled.value().data()[0])).as("A moves about 16 times less")
                .isLessThan(Math.abs(1f - scaled.value().data()[0]) / 8);
    }

    @Test
    void decoupledDecayShrinksTheParameterBeforeTheUpdate() {
        var decayed = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[] {1f, -2f}, 2), true);
        var exempt = TrainableParameter.ofAdapter("a", "offset", Tensor.of(new float[] {1f, -2f}, 2), false);
        var adam = AdamW.withWeightDecay(0.1);
        float[][] expected = {{0.89f, -1.88f}, {0.8544663f, -1.8978104f}, {0.7801105f, -1.9071322f}};
        float[][] undecayed = {{0.9f, -1.9f}, {0.8733663f, -1.9366104f}, {0.8075551f, -1.9649103f}};
        for (int t = 0; t < 3; t++) {
            adam.step(List.of(decayed, exempt), Map.of(decayed.key(), GRADIENTS[t].clone(), exempt.key(),
                    GRADIENTS[t].clone()), 0.1);
            assertThat(decayed.value().data()).containsExactly(expected[t], within(1e-6f));
            assertThat(exempt.value().data()).containsExactly(undecayed[t], within(1e-6f));
        }
    }

    @Test
    void epsIsAddedOutsideTheSquareRoot() {
        // ε = 1, g = 0.5, first step: m̂ = 0.5, sqrt(v̂) = 0.5; ε outside the root gives the denominator
        // 0.5 + 1 = 1.5 (inside it would give sqrt(0.25 + 1) = 1.118), so θ = 0 − 1·0.5/1.5
        var p = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[] {0f}, 1), false);
        new AdamW(0.9, 0.999, 1.0, 0).step(List.of(p), Map.of(p.key(), new float[] {0.5f}), 1.0);
        assertThat(p.value().data()[0]).isCloseTo(-0.5f / 1.5f, within(1e-7f));
    }

    @Test
    void stateRoundTripContinuesIdentically() {
        var a = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[] {1f, -2f}, 2), true);
        var b = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[] {1f, -2f}, 2), true);
        var first = AdamW.withWeightDecay(0.1);
        first.step(List.of(a), Map.of(a.key(), GRADIENTS[0].clone()), 0.1);
        System.arraycopy(a.value().data(), 0, b.value().data(), 0, 2);
        var second = AdamW.withWeightDecay(0.1);
        second.load(first.state(), first.steps(), List.of(b));
        first.step(List.of(a), Map.of(a.key(), GRADIENTS[1].clone()), 0.1);
        second.step(List.of(b), Map.of(b.key(), GRADIENTS[1].clone()), 0.1);
        assertThat(TinyMamba.bits(b.value())).isEqualTo(TinyMamba.bits(a.value()));
    }
}
