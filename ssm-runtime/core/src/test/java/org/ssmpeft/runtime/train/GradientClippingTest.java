package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** clip_grad_norm_: the norm over all tensors together, coefficient min(1, max / (norm + 1e-6)). */
class GradientClippingTest {

    @Test
    void globalNormIsTheNormOfAllElements() {
        // (3, 4) and (12): sqrt(9 + 16 + 144) = 13
        assertThat(GradientClipping.globalNorm(List.of(new float[] {3, 4}, new float[] {12}))).isEqualTo(13.0);
    }

    @Test
    void gradientsAboveTheLimitAreScaledTogether() {
        float[] a = {3, 4};
        float[] b = {12};
        double norm = GradientClipping.clipByGlobalNorm(List.of(a, b), 1.0);
        assertThat(norm).isEqualTo(13.0);
        float coef = (float) (1.0 / (13.0 + 1e-6));
        assertThat(a).containsExactly(3 * coef, 4 * coef);
        assertThat(b).containsExactly(12 * coef);
        assertThat(GradientClipping.globalNorm(List.of(a, b))).isCloseTo(1.0, within(1e-6));
    }

    @Test
    void gradientsBelowTheLimitAreLeftAlone() {
        float[] a = {0.3f, -0.4f};
        GradientClipping.clipByGlobalNorm(List.of(a), 1.0);
        assertThat(a).containsExactly(0.3f, -0.4f);
    }
}
