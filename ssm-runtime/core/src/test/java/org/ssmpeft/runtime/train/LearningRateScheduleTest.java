package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.train.LearningRateSchedule.Kind;

/** The factors of Hugging Face's schedulers at chosen steps (W = 10 warm-up, T = 110 total), exact to 1e-12. */
class LearningRateScheduleTest {

    @Test
    void warmupRisesLinearlyFromZero() {
        var s = new LearningRateSchedule(Kind.LINEAR, 10, 110);
        assertThat(s.factor(0)).isEqualTo(0.0);
        assertThat(s.factor(1)).isCloseTo(0.1, within(1e-12));
        assertThat(s.factor(5)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(10)).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void linearDecaysToZeroAtTheLastStep() {
        // (T − s) / (T − W): s = 60 -> 50/100; s = 109 -> 1/100; s = 110 -> 0; beyond -> 0
        var s = new LearningRateSchedule(Kind.LINEAR, 10, 110);
        assertThat(s.factor(60)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(109)).isCloseTo(0.01, within(1e-12));
        assertThat(s.factor(110)).isEqualTo(0.0);
        assertThat(s.factor(200)).isEqualTo(0.0);
        assertThat(s.learningRate(4e-4, 60)).isCloseTo(2e-4, within(1e-15));
    }

    @Test
    void withoutWarmupTheFirstUpdateUsesTheFullRate() {
        // the reference setting: linear, no warm-up; T = 4: factors 1, 0.75, 0.5, 0.25
        var s = new LearningRateSchedule(Kind.LINEAR, 0, 4);
        assertThat(new double[] {s.factor(0), s.factor(1), s.factor(2), s.factor(3)})
                .containsExactly(new double[] {1, 0.75, 0.5, 0.25}, within(1e-12));
    }

    @Test
    void cosineFollowsHalfACycle() {
        // ½(1 + cos(π·(s − W)/(T − W))): s = 10 -> 1, s = 35 -> ½(1 + cos(π/4)) = 0.8535534, s = 60 -> 0.5,
        // s = 85 -> ½(1 − cos(π/4)) = 0.1464466, s = 110 -> 0
        var s = new LearningRateSchedule(Kind.COSINE, 10, 110);
        assertThat(s.factor(5)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(10)).isCloseTo(1.0, within(1e-12));
        assertThat(s.factor(35)).isCloseTo(0.5 * (1 + Math.sqrt(0.5)), within(1e-12));
        assertThat(s.factor(60)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(85)).isCloseTo(0.5 * (1 - Math.sqrt(0.5)), within(1e-12));
        assertThat(s.factor(110)).isCloseTo(0.0, within(1e-12));
    }

    @Test
    void constantHoldsAfterWarmup() {
        var s = new LearningRateSchedule(Kind.CONSTANT, 4, 100);
        assertThat(s.factor(2)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(4)).isEqualTo(1.0);
        assertThat(s.factor(99)).isEqualTo(1.0);
        assertThat(new LearningRateSchedule(Kind.CONSTANT, 0, 1).factor(0)).isEqualTo(1.0);
    }

    @Test
    void kindsParseByHuggingFaceName() {
        assertThat(Kind.parse("Cosine")).isEqualTo(Kind.COSINE);
        assertThatThrownBy(() -> Kind.parse("polynomial")).hasMessageContaining("constant, linear or cosine");
    }
}
