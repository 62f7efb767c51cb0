package org.ssmpeft.api.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.tensor.Tensor;

/** The finite-difference utility on a loss whose gradient is known in closed form. */
class GradientCheckTest {

    // L = Σ_i sin(θ_i)·θ_i² + (Σ_i θ_i)², in float32 like a model's loss; dL/dθ_i = cos·θ² + 2θ·sin + 2Σθ
    private static double loss(Tensor t) {
        float sum = 0f;
        float acc = 0f;
        for (float v : t.data()) {
            acc += (float) Math.sin(v) * v * v;
            sum += v;
        }
        return acc + sum * sum;
    }

    private static Tensor gradient(Tensor t) {
        float sum = 0f;
        for (float v : t.data()) {
            sum += v;
        }
        float[] g = new float[t.size()];
        for (int i = 0; i < g.length; i++) {
            double v = t.data()[i];
            g[i] = (float) (Math.cos(v) * v * v + 2 * v * Math.sin(v) + 2 * sum);
        }
        return Tensor.of(g, t.shape());
    }

    @Test
    void aCorrectGradientPassesAndTheTensorIsRestored() {
        Tensor theta = Tensor.of(new float[] {0.3f, -1.2f, 2.5f, 0.01f, -0.7f, 4f}, 2, 3);
        float[] before = theta.data().clone();
        var result = GradientCheck.of(() -> loss(theta)).check(Map.of("theta", theta), Map.of("theta",
                gradient(theta)));
        assertThat(result.get("theta").checked()).isEqualTo(6);
        assertThat(result.maxRelativeError()).isLessThan(1e-3); // float32 loss of magnitude ~40: noise ≈ 1e-4
        assertThat(result.get("theta").within(1e-3, 0)).isTrue();
        assertThat(theta.data()).isEqualTo(before);
    }

    @Test
    void aWrongGradientIsCaughtAndSamplingChecksTheAskedNumber() {
        Tensor theta = Tensor.of(new float[] {0.3f, -1.2f, 2.5f, 0.01f, -0.7f, 4f}, 6);
        Tensor wrong = gradient(theta);
        for (int i = 0; i < 6; i++) {
            wrong.data()[i] *= 1.05f;
        }
        var result = GradientCheck.of(() -> loss(theta)).samples(4, 3).check(Map.of("theta", theta),
                Map.of("theta", wrong));
        assertThat(result.get("theta").checked()).isEqualTo(4);
        assertThat(result.maxRelativeError()).isGreaterThan(1e-2);
    }
}
