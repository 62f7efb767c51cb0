package org.ssmpeft.api.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.tensor.Tensor;

/** The finite-difference utility on losses whose gradients are known in closed form. */
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

    // --- directional checks ---

    // two tensors: L = f(a) + s·Σ_j cos(b_j)·b_j, in float32; dL/db_j = s·(cos b_j − b_j sin b_j), so with s = 1e-2
    // |g_b| ≈ 1.8e-2, 6e-4 of |g_a| ≈ 32: b takes the largest step and has a floor of 7e-3 |g_b| (L ≈ 22)
    private static final float SMALL = 1e-2f;

    private static double twoTensorLoss(Tensor a, Tensor b) {
        float acc = (float) loss(a);
        float small = 0f;
        for (float v : b.data()) {
            small += (float) Math.cos(v) * v;
        }
        return acc + SMALL * small;
    }

    private static Tensor smallGradient(Tensor b) {
        float[] g = new float[b.size()];
        for (int i = 0; i < g.length; i++) {
            double v = b.data()[i];
            g[i] = (float) (SMALL * (Math.cos(v) - v * Math.sin(v)));
        }
        return Tensor.of(g, b.shape());
    }

    private static Tensor a() {
        return Tensor.of(new float[] {0.3f, -1.2f, 2.5f, 0.01f, -0.7f, 4f, 0.9f, -0.2f}, 2, 4);
    }

    private static Tensor b() {
        return Tensor.of(new float[] {0.5f, -0.4f, 1.1f, 0.2f, -1.3f, 0.8f}, 6);
    }

    private static Map<String, Tensor> named(Tensor a, Tensor b) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a", a);
        m.put("b", b);
        return m;
    }

    private static Tensor scaled(Tensor t, float factor) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) {
            d[i] *= factor;
        }
        return Tensor.of(d, t.shape());
    }

    @Test
    void correctGradientsPassEveryDirectionJointlyAndPerTensorAndTheTensorsAreRestored() {
        Tensor a = a();
        Tensor b = b();
        float[] beforeA = a.data().clone();
        float[] beforeB = b.data().clone();
        var r = GradientCheck.of(() -> twoTensorLoss(a, b)).randomDirections(3, 9)
                .checkDirections(named(a, b), named(gradient(a), smallGradient(b)));
        // joint + 2 tensors, each along g/|g| and 3 random directions
        assertThat(r.checks()).hasSize(12);
        assertThat(r.checks().stream().map(GradientCheck.Directional::scope).distinct())
                .containsExactly(GradientCheck.ALL, "a", "b");
        assertThat(r.failures(1e-3)).as("%s", r).isEmpty();
        assertThat(r.unresolved(5e-3)).as("only b's floor is above 5e-3 |g|: %s", r)
                .extracting(GradientCheck.Directional::scope).containsOnly("b");
        assertThat(r.maxRelativeError(5e-3)).as("%s", r).isLessThan(1e-3); // the floor is 1.4e-3
        var joint = r.alongGradient(GradientCheck.ALL);
        // ⟨g, g/|g|⟩ = |g|, up to the float32 rounding of the steps taken
        assertThat(joint.analytic()).isCloseTo(joint.gradient(), offset(1e-4 * joint.gradient()));
        assertThat(joint.directionNorm()).isEqualTo(1.0);
        assertThat(a.data()).isEqualTo(beforeA);
        assertThat(b.data()).isEqualTo(beforeB);
    }

    @Test
    void aGradientScaledBy095FailsAlongGWithARelativeErrorOfFivePercent() {
        Tensor a = a();
        Tensor b = b();
        var r = GradientCheck.of(() -> twoTensorLoss(a, b))
                .checkDirections(named(a, b), named(scaled(gradient(a), 0.95f), scaled(smallGradient(b), 0.95f)));
        // along v = g'/|g'| the differences read |g|, the analytic side 0.95 |g|: off by 0.05/0.95 of |g'|
        for (String scope : new String[] {GradientCheck.ALL, "a", "b"}) {
            var d = r.alongGradient(scope);
            assertThat(d.relativeError()).as("%s", d).isCloseTo(0.05 / 0.95, offset(3e-3));
            assertThat(d.within(1e-2)).as("%s", d).isFalse();
        }
        assertThat(r.failures(1e-2)).isNotEmpty();
    }

    @Test
    void aSignFlipFailsWithARelativeErrorOfTwo() {
        Tensor a = a();
        Tensor b = b();
        var r = GradientCheck.of(() -> twoTensorLoss(a, b))
                .checkDirections(named(a, b), named(scaled(gradient(a), -1f), scaled(smallGradient(b), -1f)));
        for (String scope : new String[] {GradientCheck.ALL, "a", "b"}) {
            var d = r.alongGradient(scope);
            assertThat(d.numeric()).as("%s", d).isCloseTo(-d.analytic(), offset(3e-3 * d.scale()));
            assertThat(d.relativeError()).as("%s", d).isCloseTo(2.0, offset(3e-3));
        }
    }

    @Test
    void aWrongSmallTensorHidesInTheJointCheckButFailsItsOwn() {
        Tensor a = a();
        Tensor b = b();
        var r = GradientCheck.of(() -> twoTensorLoss(a, b))
                .checkDirections(named(a, b), named(gradient(a), scaled(smallGradient(b), -1f)));
        // |g_b| / |g| ≈ 6e-4: the joint error 2 |g_b|² / |g| is far below any tolerance
        assertThat(r.alongGradient(GradientCheck.ALL).within(1e-3)).isTrue();
        assertThat(r.alongGradient("a").within(1e-3)).isTrue();
        assertThat(r.alongGradient("b").within(1e-2)).as("%s", r).isFalse();
        assertThat(r.failures(1e-2)).extracting(GradientCheck.Directional::scope).containsOnly("b");
    }

    @Test
    void anErrorOrthogonalToTheGradientIsSeenByRandomDirections() {
        Tensor a = a();
        Tensor b = b();
        // swap two of a's gradient elements: |g| is unchanged, and so nearly is the check along g'/|g'| ...
        Tensor wrong = gradient(a);
        float t = wrong.data()[0];
        wrong.data()[0] = wrong.data()[1];
        wrong.data()[1] = t;
        var r = GradientCheck.of(() -> twoTensorLoss(a, b)).randomDirections(3, 9)
                .checkDirections(named(a, b), named(wrong, smallGradient(b)));
        // ... but not quite (⟨g, g'⟩ < |g|²), and random directions see the swap too
        assertThat(r.failures(1e-2)).as("%s", r).anySatisfy(d -> assertThat(d.direction()).startsWith("random"));
    }

    @Test
    void aTensorWithoutGradientGetsRandomDirectionsOnlyAndTheirDifferencesMustVanish() {
        Tensor a = a();
        Tensor unused = Tensor.of(new float[] {1f, 2f, 3f}, 3);
        Map<String, Tensor> params = new LinkedHashMap<>();
        params.put("a", a);
        params.put("unused", unused);
        Map<String, Tensor> grads = new LinkedHashMap<>();
        grads.put("a", gradient(a));
        grads.put("unused", Tensor.zeros(3));
        var r = GradientCheck.of(() -> loss(a)).checkDirections(params, grads);
        assertThat(r.checks()).filteredOn(d -> d.scope().equals("unused"))
                .extracting(GradientCheck.Directional::direction).containsExactly("random 1", "random 2");
        assertThat(r.failures(1e-3)).isEmpty();

        // a loss that does depend on it: the zero gradient is wrong, and the random directions say so
        var wrong = GradientCheck.of(() -> loss(a) + 0.5 * unused.data()[1]).checkDirections(params, grads);
        assertThat(wrong.failures(1e-3)).extracting(GradientCheck.Directional::scope).contains("unused");
    }

    @Test
    void aGradientBelowTheFloatNoiseIsReportedAsUnresolved() {
        Tensor a = a();
        Tensor b = b();
        // with a float32 loss of ~22, b's gradient of ~2e-2 needs a larger step than this range allows
        var r = GradientCheck.of(() -> twoTensorLoss(a, b)).directionalStepRange(1e-6, 1e-4)
                .checkDirections(named(a, b), named(gradient(a), smallGradient(b)));
        assertThat(r.unresolved(5e-3)).as("%s", r).extracting(GradientCheck.Directional::scope).containsOnly("b");
        assertThat(r.failures(1e-3)).as("the floor covers its noise: %s", r).isEmpty();
    }

    @Test
    void perturbationsAreTheFloat32ValuesTheLossSees() {
        // θ ≈ 3e4: ulp(θ) ≈ 0.002, so most steps round; the analytic side uses the steps actually taken
        Tensor big = Tensor.of(new float[] {30000f, -29000.5f, 31000.25f}, 3);
        var r = GradientCheck.of(() -> {
            double acc = 0;
            for (float v : big.data()) {
                acc += 1e-4 * v * v;
            }
            return acc;
        }).randomDirections(2, 3).checkDirections(Map.of("big", big), Map.of("big", Tensor.of(new float[] {
            (float) (2e-4 * 30000f), (float) (2e-4 * -29000.5f), (float) (2e-4 * 31000.25f)}, 3)));
        assertThat(r.failures(1e-4)).as("%s", r).isEmpty();
    }
}
