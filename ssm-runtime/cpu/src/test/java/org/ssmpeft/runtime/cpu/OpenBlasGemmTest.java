package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * OpenBLAS's {@code cblas_sgemm} behind {@link OpenBlasGemm} computes the same three products as the project's
 * {@link Gemm} (within float tolerance: the summation order differs), on odd shapes with offsets and row strides
 * larger than the rows, at 1 and 2 OpenBLAS threads; the padding between rows is left alone. The products skip
 * through an assumption only where the native library cannot load; the unavailability reason is tested everywhere.
 * Tolerance per element: {@code 2e-5 · Σ_p |a_p b_p| + 1e-30}.
 */
class OpenBlasGemmTest {

    private static final Parallel SERIAL = new Parallel(new ForkJoinPool(1));

    static Stream<Arguments> shapes() {
        int[][] shapes = {{1, 1, 1}, {3, 17, 5}, {17, 63, 65}, {65, 80, 129}, {37, 48, 131}, {129, 7, 3},
            {0, 5, 7}, {5, 0, 7}, {5, 7, 0}};
        return Stream.of(shapes).flatMap(s -> IntStream.of(1, 2).mapToObj(t -> Arguments.of(s[0], s[1], s[2], t)));
    }

    private static OpenBlasGemm blas(int threads) {
        var blas = OpenBlasGemm.instance();
        assumeThat(blas.available()).as("OpenBLAS loads here: %s", blas.unavailableReason().orElse("")).isTrue();
        blas.setThreads(threads);
        assertThat(blas.threads()).isEqualTo(threads);
        return blas;
    }

    private static float[] random(SplittableRandom rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return x;
    }

    @ParameterizedTest(name = "M={0} N={1} K={2} threads={3}")
    @MethodSource("shapes")
    void aTimesBTransposedPlusBiasMatchesTheProjectKernel(int m, int n, int k, int threads) {
        var blas = blas(threads);
        var rnd = new SplittableRandom(31L * m + 17L * n + k);
        int lda = k + 3;
        int ldb = k + 1;
        int ldc = n + 2;
        float[] a = random(rnd, 5 + m * lda);
        float[] b = random(rnd, 2 + n * ldb);
        float[] c0 = random(rnd, 1 + m * ldc);
        for (float[] bias : new float[][] {random(rnd, n), null}) {
            float[] want = c0.clone();
            float[] got = c0.clone();
            Gemm.abT(SERIAL, a, 5, lda, b, 2, ldb, bias, want, 1, ldc, m, n, k);
            blas.abT(a, 5, lda, b, 2, ldb, bias, got, 1, ldc, m, n, k);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double mag = bias == null ? 0 : Math.abs(bias[j]);
                    for (int p = 0; p < k; p++) {
                        mag += Math.abs((double) a[5 + i * lda + p] * b[2 + j * ldb + p]);
                    }
                    assertThat(got[1 + i * ldc + j]).as("C[%d, %d] bias=%s", i, j, bias != null)
                            .isCloseTo(want[1 + i * ldc + j], Offset.offset((float) (2e-5 * mag + 1e-30)));
                }
            }
            assertPaddingUntouched(c0, got, 1, ldc, m, n);
        }
    }

    @ParameterizedTest(name = "M={0} N={1} K={2} threads={3}")
    @MethodSource("shapes")
    void aTimesBMatchesTheProjectKernelWithAndWithoutAccumulation(int m, int n, int k, int threads) {
        // dX (M, K) (+)= dY (M, N) · W (N, K)
        var blas = blas(threads);
        var rnd = new SplittableRandom(13L * m + 7L * n + k);
        int lda = n + 1;
        int ldb = k + 2;
        int ldc = k + 3;
        float[] a = random(rnd, 3 + m * lda);
        float[] b = random(rnd, 1 + n * ldb);
        float[] c0 = random(rnd, 2 + m * ldc);
        for (boolean accumulate : new boolean[] {false, true}) {
            float[] want = c0.clone();
            float[] got = c0.clone();
            Gemm.ab(SERIAL, a, 3, lda, b, 1, ldb, want, 2, ldc, m, n, k, accumulate);
            blas.ab(a, 3, lda, b, 1, ldb, got, 2, ldc, m, n, k, accumulate);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < k; j++) {
                    double mag = accumulate ? Math.abs(c0[2 + i * ldc + j]) : 0;
                    for (int p = 0; p < n; p++) {
                        mag += Math.abs((double) a[3 + i * lda + p] * b[1 + p * ldb + j]);
                    }
                    assertThat(got[2 + i * ldc + j]).as("C[%d, %d] accumulate=%s", i, j, accumulate)
                            .isCloseTo(want[2 + i * ldc + j], Offset.offset((float) (2e-5 * mag + 1e-30)));
                }
            }
            assertPaddingUntouched(c0, got, 2, ldc, m, k);
        }
    }

    @ParameterizedTest(name = "M={0} N={1} K={2} threads={3}")
    @MethodSource("shapes")
    void aTransposedTimesBAddsToCAsTheProjectKernel(int m, int n, int k, int threads) {
        // dW (N, K) += dY (M, N)ᵀ · X (M, K)
        var blas = blas(threads);
        var rnd = new SplittableRandom(3L * m + 11L * n + k);
        int lda = n + 2;
        int ldb = k + 1;
        int ldc = k + 4;
        float[] a = random(rnd, 1 + m * lda);
        float[] b = random(rnd, m * ldb);
        float[] c0 = random(rnd, 3 + n * ldc);
        float[] want = c0.clone();
        float[] got = c0.clone();
        Gemm.addAtB(SERIAL, a, 1, lda, b, 0, ldb, want, 3, ldc, m, n, k);
        blas.addAtB(a, 1, lda, b, 0, ldb, got, 3, ldc, m, n, k);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                double mag = Math.abs(c0[3 + i * ldc + j]);
                for (int p = 0; p < m; p++) {
                    mag += Math.abs((double) a[1 + p * lda + i] * b[p * ldb + j]);
                }
                assertThat(got[3 + i * ldc + j]).as("C[%d, %d]", i, j)
                        .isCloseTo(want[3 + i * ldc + j], Offset.offset((float) (2e-5 * mag + 1e-30)));
            }
        }
        assertPaddingUntouched(c0, got, 3, ldc, n, k);
    }

    // everything outside the (rows, cols) block at off with row stride ld keeps its value
    private static void assertPaddingUntouched(float[] before, float[] after, int off, int ld, int rows, int cols) {
        for (int x = 0; x < before.length; x++) {
            int r = (x - off) / ld;
            int col = (x - off) % ld;
            boolean inside = x >= off && r < rows && col < cols;
            if (!inside) {
                assertThat(after[x]).as("element %d outside C", x).isEqualTo(before[x]);
            }
        }
    }

    @Test
    void aLeadingDimensionOrOffsetOutsideTheArrayFailsBeforeTheNativeCall() {
        var blas = blas(1);
        float[] a = new float[4 * 6];
        float[] b = new float[5 * 6];
        float[] c = new float[4 * 5];
        assertThatThrownBy(() -> blas.abT(a, 0, 5, b, 0, 6, null, c, 0, 5, 4, 5, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leading dimension of A is 5");
        assertThatThrownBy(() -> blas.abT(a, 1, 6, b, 0, 6, null, c, 0, 5, 4, 5, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("array has 24");
        assertThatThrownBy(() -> blas.addAtB(a, 0, 6, b, 0, 6, c, 0, 6, 4, 6, 6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("addAtB: C");
        assertThatThrownBy(() -> blas.setThreads(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void withoutTheJarsItIsUnavailableAndSaysWhatToAdd() {
        // the platform class loader sees neither JavaCPP nor the OpenBLAS presets
        var blas = OpenBlasGemm.load(ClassLoader.getPlatformClassLoader());
        assertThat(blas.available()).isFalse();
        assertThat(blas.unavailableReason()).hasValueSatisfying(r -> assertThat(r)
                .contains("org.bytedeco.javacpp.Loader").contains("org.bytedeco:openblas:0.3.31-1.5.13")
                .contains("linux-x86_64"));
        assertThat(blas.describe()).startsWith("unavailable: ");
        float[] x = new float[1];
        assertThatThrownBy(() -> blas.abT(x, 0, 1, x, 0, 1, null, x, 0, 1, 1, 1, 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("OpenBLAS is unavailable: " + blas.unavailableReason().orElseThrow());
        assertThatThrownBy(() -> blas.setThreads(1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aLibraryThatDoesNotOpenIsUnavailableWithThePathAndTheLoaderError() {
        Path missing = Path.of("/nonexistent/libopenblas.so.0");
        var blas = OpenBlasGemm.bind(missing);
        assertThat(blas.available()).isFalse();
        assertThat(blas.unavailableReason()).hasValueSatisfying(r -> assertThat(r)
                .startsWith("cannot open the native library " + missing));
    }

    @Test
    void theBackendsDefaultArithmeticIsTheProjectKernel() {
        // loading OpenBLAS does not change what Gemm dispatches to
        OpenBlasGemm.instance();
        assertThat(Gemm.implementation()).startsWith("vector");
    }
}
