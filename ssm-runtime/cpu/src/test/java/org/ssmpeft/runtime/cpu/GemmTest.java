package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The three matrix kernels against a double-precision reference, on both paths (Vector API and scalar), serial and
 * on a 3-thread pool, with offsets and row strides larger than the rows. Tolerance per element:
 * {@code 1e-5 · Σ_p |a_p b_p| + 1e-30} (float32 accumulation of at most a few hundred products is good to about 1e-6
 * of that sum).
 */
class GemmTest {

    private static final int[] SIZES = {1, 3, 17, 63, 65, 129};
    private static final ForkJoinPool POOL = new ForkJoinPool(3);
    private static final Parallel SERIAL = new Parallel(new ForkJoinPool(1));
    private static final Parallel THREADS = new Parallel(POOL);

    @AfterAll
    static void shutdown() {
        POOL.shutdown();
    }

    enum Path { VECTOR, SCALAR }

    static Stream<Arguments> shapes() {
        var rnd = new SplittableRandom(7);
        List<Arguments> out = new ArrayList<>();
        for (Path path : Path.values()) {
            for (int i = 0; i < 12; i++) {
                int m = SIZES[rnd.nextInt(SIZES.length)];
                int n = SIZES[rnd.nextInt(SIZES.length)];
                int k = SIZES[rnd.nextInt(SIZES.length)];
                out.add(Arguments.of(path, m, n, k));
            }
            out.add(Arguments.of(path, 129, 129, 129));
            out.add(Arguments.of(path, 65, 80, 1536));
            out.add(Arguments.of(path, 37, 48, 768));
            out.add(Arguments.of(path, 0, 5, 7));
            out.add(Arguments.of(path, 5, 7, 0));
        }
        return out.stream();
    }

    private static float[] random(SplittableRandom rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return x;
    }

    @Test
    void testsRunTheVectorPath() {
        // surefire's argLine adds jdk.incubator.vector (parent pom); without it this suite would only test the fallback
        assertThat(Gemm.VECTOR).as("Gemm uses the Vector API in tests").isTrue();
        assertThat(Gemm.implementation()).startsWith("vector");
    }

    // C (M, N) = A (M, K) · Bᵀ + bias
    private static void abT(Path path, Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] bias, float[] c, int cOff, int ldc, int m, int n, int k) {
        if (path == Path.VECTOR) {
            GemmVector.abT(par, a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, m, n, k);
        } else {
            GemmScalar.abT(par, a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, m, n, k);
        }
    }

    private static void nn(Path path, Parallel par, float[] a, int aOff, int ars, int aps, float[] b, int bOff,
                           int ldb, float[] c, int cOff, int ldc, int rows, int cols, int depth, boolean acc) {
        if (path == Path.VECTOR) {
            GemmVector.nn(par, a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, rows, cols, depth, acc);
        } else {
            GemmScalar.nn(par, a, aOff, ars, aps, b, bOff, ldb, c, cOff, ldc, rows, cols, depth, acc);
        }
    }

    @ParameterizedTest(name = "{0} M={1} N={2} K={3}")
    @MethodSource("shapes")
    void aTimesBTransposedPlusBiasMatchesTheReference(Path path, int m, int n, int k) {
        var rnd = new SplittableRandom(31L * m + 17L * n + k);
        int lda = k + 3;
        int aOff = 5;
        int ldc = n + 2;
        int cOff = 1;
        float[] a = random(rnd, aOff + m * lda);
        float[] b = random(rnd, 2 + n * k);
        float[] bias = random(rnd, n);
        for (Parallel par : List.of(SERIAL, THREADS)) {
            for (float[] bi : new float[][] {bias, null}) {
                float[] c = new float[cOff + m * ldc];
                abT(path, par, a, aOff, lda, b, 2, k, bi, c, cOff, ldc, m, n, k);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = bi == null ? 0 : bi[j];
                        double mag = Math.abs(s);
                        for (int p = 0; p < k; p++) {
                            double t = (double) a[aOff + i * lda + p] * b[2 + j * k + p];
                            s += t;
                            mag += Math.abs(t);
                        }
                        assertThat((double) c[cOff + i * ldc + j]).as("C[%d, %d]", i, j)
                                .isCloseTo(s, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-30));
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} M={1} N={2} K={3}")
    @MethodSource("shapes")
    void aTimesBMatchesTheReferenceWithAndWithoutAccumulation(Path path, int m, int n, int k) {
        // dX (M, K) (+)= dY (M, N) · W (N, K)
        var rnd = new SplittableRandom(13L * m + 7L * n + k);
        int lda = n + 1;
        int ldb = k + 2;
        int ldc = k + 3;
        float[] a = random(rnd, 3 + m * lda);
        float[] b = random(rnd, 1 + n * ldb);
        float[] c0 = random(rnd, 2 + m * ldc);
        for (Parallel par : List.of(SERIAL, THREADS)) {
            for (boolean accumulate : new boolean[] {false, true}) {
                float[] c = c0.clone();
                if (path == Path.VECTOR) {
                    GemmVector.nn(par, a, 3, lda, 1, b, 1, ldb, c, 2, ldc, m, k, n, accumulate);
                } else {
                    GemmScalar.nn(par, a, 3, lda, 1, b, 1, ldb, c, 2, ldc, m, k, n, accumulate);
                }
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < k; j++) {
                        double s = accumulate ? c0[2 + i * ldc + j] : 0;
                        double mag = Math.abs(s);
                        for (int p = 0; p < n; p++) {
                            double t = (double) a[3 + i * lda + p] * b[1 + p * ldb + j];
                            s += t;
                            mag += Math.abs(t);
                        }
                        assertThat((double) c[2 + i * ldc + j]).as("C[%d, %d] accumulate=%s", i, j, accumulate)
                                .isCloseTo(s, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-30));
                    }
                    // the padding between rows is untouched
                    for (int j = k; j < ldc && i < m - 1; j++) {
                        assertThat(c[2 + i * ldc + j]).isEqualTo(c0[2 + i * ldc + j]);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} M={1} N={2} K={3}")
    @MethodSource("shapes")
    void aTransposedTimesBAddsToC(Path path, int m, int n, int k) {
        // dW (N, K) += dY (M, N)ᵀ · X (M, K)
        var rnd = new SplittableRandom(3L * m + 11L * n + k);
        int lda = n + 2;
        int ldb = k + 1;
        int ldc = k;
        float[] a = random(rnd, m * lda);
        float[] b = random(rnd, m * ldb);
        float[] c0 = random(rnd, n * ldc);
        for (Parallel par : List.of(SERIAL, THREADS)) {
            float[] c = c0.clone();
            nn(path, par, a, 0, 1, lda, b, 0, ldb, c, 0, ldc, n, k, m, true);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < k; j++) {
                    double s = c0[i * ldc + j];
                    double mag = Math.abs(s);
                    for (int p = 0; p < m; p++) {
                        double t = (double) a[p * lda + i] * b[p * ldb + j];
                        s += t;
                        mag += Math.abs(t);
                    }
                    assertThat((double) c[i * ldc + j]).as("C[%d, %d]", i, j)
                            .isCloseTo(s, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-30));
                }
            }
        }
    }

    @Test
    void theDispatcherComputesTheSameAsThePathItNames() {
        var rnd = new SplittableRandom(5);
        int m = 37;
        int n = 65;
        int k = 129;
        float[] a = random(rnd, m * k);
        float[] b = random(rnd, n * k);
        float[] viaGemm = new float[m * n];
        float[] direct = new float[m * n];
        Gemm.abT(THREADS, a, 0, k, b, 0, k, null, viaGemm, 0, n, m, n, k);
        GemmVector.abT(THREADS, a, 0, k, b, 0, k, null, direct, 0, n, m, n, k);
        assertThat(viaGemm).containsExactly(direct);

        float[] dx = new float[m * k];
        float[] dxDirect = new float[m * k];
        Gemm.ab(THREADS, viaGemm, 0, n, b, 0, k, dx, 0, k, m, n, k, false);
        GemmVector.nn(THREADS, viaGemm, 0, n, 1, b, 0, k, dxDirect, 0, k, m, k, n, false);
        assertThat(dx).containsExactly(dxDirect);

        float[] dw = new float[n * k];
        float[] dwDirect = new float[n * k];
        Gemm.addAtB(THREADS, viaGemm, 0, n, a, 0, k, dw, 0, k, m, n, k);
        GemmVector.nn(THREADS, viaGemm, 0, 1, n, a, 0, k, dwDirect, 0, k, n, k, m, true);
        assertThat(dw).containsExactly(dwDirect);
    }

    @Test
    void vectorAndScalarPathsAgreeWithinFloatTolerance() {
        var rnd = new SplittableRandom(11);
        int m = 63;
        int n = 129;
        int k = 768;
        float[] a = random(rnd, m * k);
        float[] b = random(rnd, n * k);
        float[] bias = random(rnd, n);
        float[] vector = new float[m * n];
        float[] scalar = new float[m * n];
        GemmVector.abT(THREADS, a, 0, k, b, 0, k, bias, vector, 0, n, m, n, k);
        GemmScalar.abT(THREADS, a, 0, k, b, 0, k, bias, scalar, 0, n, m, n, k);
        // |a|, |b| < 1 and K = 768: products sum to at most ~200 in magnitude, typically ~10; 1e-4 absolute
        for (int i = 0; i < vector.length; i++) {
            assertThat(vector[i]).as("element %d", i).isCloseTo(scalar[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
        float[] vdx = new float[m * k];
        float[] sdx = new float[m * k];
        GemmVector.nn(THREADS, vector, 0, n, 1, b, 0, k, vdx, 0, k, m, k, n, false);
        GemmScalar.nn(THREADS, vector, 0, n, 1, b, 0, k, sdx, 0, k, m, k, n, false);
        for (int i = 0; i < vdx.length; i++) {
            assertThat(vdx[i]).as("dX element %d", i).isCloseTo(sdx[i], org.assertj.core.data.Offset.offset(1e-3f));
        }
    }

    @ParameterizedTest(name = "{0} K={1}")
    @MethodSource("determinismCases")
    void oneRowAloneGivesTheSameBitsAsInsideABatch(Path path, int k) {
        // The decode invariant: C row r of a 37-row product == the same row computed alone (M = 1), bit for bit,
        // on 1 or 3 threads, for rows in the 4-row tiles and in the leftover rows.
        var rnd = new SplittableRandom(k);
        int m = 37;
        int n = 129;
        float[] a = random(rnd, m * k);
        float[] b = random(rnd, n * k);
        float[] bias = random(rnd, n);
        float[] batch = new float[m * n];
        abT(path, THREADS, a, 0, k, b, 0, k, bias, batch, 0, n, m, n, k);
        float[] serialBatch = new float[m * n];
        abT(path, SERIAL, a, 0, k, b, 0, k, bias, serialBatch, 0, n, m, n, k);
        assertThat(serialBatch).as("1 thread == 3 threads").containsExactly(batch);
        for (int r = 0; r < m; r++) {
            float[] alone = new float[n];
            abT(path, THREADS, a, r * k, k, b, 0, k, bias, alone, 0, n, 1, n, k);
            for (int j = 0; j < n; j++) {
                assertThat(Float.floatToRawIntBits(alone[j])).as("row %d column %d", r, j)
                        .isEqualTo(Float.floatToRawIntBits(batch[r * n + j]));
            }
        }
        // a few columns at a time (leftover columns take the 1 x 1 tile)
        float[] narrow = new float[m * 3];
        abT(path, THREADS, a, 0, k, b, 5 * k, k, null, narrow, 0, 3, m, 3, k);
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < 3; j++) {
                assertThat(narrow[r * 3 + j] + bias[5 + j]).as("row %d column %d", r, 5 + j)
                        .isEqualTo(batch[r * n + 5 + j]);
            }
        }
    }

    @Test
    void laneSumsIsOneFixedPairwiseTreePerVectorWhateverTheCountAndSlot() {
        int lanes = GemmVector.lanes();
        var rnd = new SplittableRandom(3);
        float[] vectors = random(rnd, 16 * lanes);
        for (int i = 0; i < vectors.length; i++) {
            vectors[i] *= (float) Math.pow(10, rnd.nextInt(-4, 5)); // mixed magnitudes: rounding differs by order
        }
        float[] expected = new float[16];
        for (int v = 0; v < 16; v++) {
            float[] x = java.util.Arrays.copyOfRange(vectors, v * lanes, (v + 1) * lanes);
            for (int half = lanes / 2; half >= 1; half /= 2) {
                for (int i = 0; i < half; i++) {
                    x[i] = x[i] + x[i + half];
                }
            }
            expected[v] = x[0];
        }
        for (int n = 1; n <= 16; n++) {
            for (int first = 0; first + n <= 16; first += 5) {
                float[] acc = java.util.Arrays.copyOfRange(vectors, first * lanes, (first + n) * lanes);
                float[] sums = new float[n];
                GemmVector.laneSums(acc, n, sums);
                for (int v = 0; v < n; v++) {
                    assertThat(Float.floatToRawIntBits(sums[v])).as("n=%d vector %d", n, first + v)
                            .isEqualTo(Float.floatToRawIntBits(expected[first + v]));
                }
            }
        }
    }

    static Stream<Arguments> determinismCases() {
        return Stream.of(Path.values()).flatMap(p -> Stream.of(1, 17, 65, 768).map(k -> Arguments.of(p, k)));
    }
}
