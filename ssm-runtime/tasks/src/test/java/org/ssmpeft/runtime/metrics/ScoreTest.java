package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ScoreTest {

    @Test
    void higherIsBetterUnlessSaidOtherwise() {
        assertThat(Score.of("rougeL", 0.4).betterThan(Score.of("rougeL", 0.3))).isTrue();
        assertThat(Score.lowerIsBetter("loss", 0.3).betterThan(Score.lowerIsBetter("loss", 0.4))).isTrue();
    }

    @Test
    void aTieIsNoImprovement() {
        assertThat(Score.of("f1", 0.5).betterThan(Score.of("f1", 0.5))).isFalse();
    }

    @Test
    void nanNeverImproves() {
        assertThat(Score.of("f1", Double.NaN).betterThan(Score.of("f1", 0.1))).isFalse();
        assertThat(Score.of("f1", 0.1).betterThan(Score.of("f1", Double.NaN))).isTrue();
    }

    @Test
    void differentMetricsDoNotCompare() {
        assertThatThrownBy(() -> Score.of("f1", 0.5).betterThan(Score.of("accuracy", 0.4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'f1'");
    }
}
