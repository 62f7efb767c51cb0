package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * {@link LaneExp} and {@link SelectiveScan#sum}: their bits do not depend on how the JIT compiled the caller (the
 * lanes equal the scalar twin, and the first, interpreted call equals the same call after thousands of repetitions,
 * which compile it), and the exponential is within 2 ulp of {@code Math.exp}. (The Vector API's own {@code EXP} and
 * {@code reduceLanes(ADD)} fail the first on JDK 25: 774 of 65,536 exponentials and 2,786 of 4,096 16-lane sums
 * changed bits once compiled, measured on this project's CI machine.)
 */
class LaneExpTest {

    private static final VectorSpecies<Float> LANES = FloatVector.SPECIES_PREFERRED;

    // inputs over the exponential's whole range, its edges and the special values, a multiple of the lanes long
    private static float[] inputs() {
        Random r = new Random(3);
        float[] special = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -103.97f, -104f,
                -105f, -87.3f, -87.4f, -100f, 88f, 88.7f, 88.8f, 89f, 1e-30f, -1e-30f, Float.MIN_VALUE,
                -0.34657359f, 0.34657359f, -0.5f, 0.5f};
        int n = (65536 / LANES.length()) * LANES.length();
        float[] x = new float[n];
        System.arraycopy(special, 0, x, 0, special.length);
        for (int i = special.length; i < n; i++) {
            x[i] = switch (i % 3) {
                case 0 -> -r.nextFloat() * 104f; // the scan's Δ·A ≤ 0
                case 1 -> r.nextFloat() * 192f - 104f;
                default -> (float) -Math.exp(r.nextGaussian() * 3); // near 0 and far from it
            };
        }
        return x;
    }

    // the array form as the scan calls it: rows of 3 vectors and a tail (lanes, then the scalar twin), scale 1
    private static void lanes(float[] x, float[] out) {
        int n = 3 * LANES.length() + 5;
        int rows = x.length / n;
        float[] ones = new float[rows + 1];
        java.util.Arrays.fill(ones, 1f);
        LaneExp.exp(x, 0, ones, 0, rows, n, out, 0);
        LaneExp.exp(x, rows * n, ones, rows, 1, x.length - rows * n, out, rows * n);
    }

    @Test
    void theLanesGiveTheScalarTwinsBitsBeforeAndAfterTheJitCompiledThem() {
        float[] x = inputs();
        float[] first = new float[x.length];
        lanes(x, first);
        float[] later = new float[x.length];
        for (int rep = 0; rep < 3000; rep++) {
            lanes(x, later);
        }
        for (int i = 0; i < x.length; i++) {
            float scalar = LaneExp.exp(x[i]);
            assertThat(Float.floatToIntBits(first[i])).as("first call, exp(%s)", x[i])
                    .isEqualTo(Float.floatToIntBits(scalar));
            assertThat(Float.floatToIntBits(later[i])).as("compiled, exp(%s)", x[i])
                    .isEqualTo(Float.floatToIntBits(scalar));
        }
    }

    @Test
    void theExponentialIsWithinTwoUlpOfMathExpAndHandlesItsEdges() {
        float[] x = inputs();
        double worst = 0;
        for (float v : x) {
            if (Float.isNaN(v) || v < -103f || v > 88f) {
                continue;
            }
            float want = (float) Math.exp(v);
            float got = LaneExp.exp(v);
            worst = Math.max(worst, Math.abs(got - want) / Math.ulp(want));
        }
        assertThat(worst).as("largest error in ulp of Math.exp").isLessThanOrEqualTo(2.0);
        assertThat(LaneExp.exp(0f)).isEqualTo(1f);
        assertThat(LaneExp.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(LaneExp.exp(-200f)).isEqualTo(0f);
        assertThat(LaneExp.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(LaneExp.exp(100f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(LaneExp.exp(Float.NaN)).isNaN();
        assertThat(LaneExp.exp(-100f)).as("a subnormal result").isPositive()
                .isCloseTo((float) Math.exp(-100), org.assertj.core.data.Offset.offset(2 * Float.MIN_VALUE));
    }

    @Test
    void theLaneSumIsAFixedTreeBeforeAndAfterTheJitCompiledIt() {
        float[] x = inputs();
        Random r = new Random(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian() * (1 << r.nextInt(12)); // cancellations make the order visible
        }
        int vectors = x.length / LANES.length();
        float[] first = sums(x, vectors);
        float[] later = first;
        for (int rep = 0; rep < 3000; rep++) {
            later = sums(x, vectors);
        }
        for (int j = 0; j < vectors; j++) {
            float[] v = java.util.Arrays.copyOfRange(x, j * LANES.length(), (j + 1) * LANES.length());
            for (int h = 1; h < v.length; h *= 2) {
                float[] w = new float[v.length];
                for (int i = 0; i < v.length; i++) {
                    w[i] = v[i] + v[(i + h) % v.length]; // lane i of v + v rotated by h
                }
                v = w;
            }
            assertThat(first[j]).as("first call, vector %d", j).isEqualTo(v[0]);
            assertThat(later[j]).as("compiled, vector %d", j).isEqualTo(v[0]);
        }
    }

    private static float[] sums(float[] x, int vectors) {
        float[] out = new float[vectors];
        for (int j = 0; j < vectors; j++) {
            out[j] = SelectiveScan.sum(java.util.Arrays.copyOfRange(x, j * LANES.length(), (j + 1) * LANES.length()));
        }
        return out;
    }
}
