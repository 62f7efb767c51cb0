package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.Cublas.Math;
import org.ssmpeft.runtime.cuda.driver.Cublas.Op;
import org.ssmpeft.runtime.cuda.driver.Cublas.Type;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaException;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;

/**
 * cuBLAS against a double-precision host product on non-square row-major matrices (67x45 times 45x129, so a swapped
 * m/n or leading dimension cannot pass), through the row-major mapping the {@link Cublas} javadoc gives. Relative
 * Frobenius error bounds: fp32 1e-5, TF32 5e-3, bf16 2e-2 (against the unrounded inputs). Every output is poisoned
 * with NaN first, so an element left unwritten fails the check.
 */
@Tag("gpu")
class CublasGpuTest {

    private static final int M = 67;
    private static final int K = 45;
    private static final int N = 129;
    private static final int BATCHES = 3;

    private static CudaContext context;
    private static Cublas cublas;

    private static String unavailable;

    @BeforeAll
    static void open() {
        try {
            context = CudaContext.open(0);
            System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
            cublas = Cublas.create(context);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage();
            if (context != null) {
                context.close();
                context = null;
            }
        }
    }

    @BeforeEach
    void skipWithoutAGpu() {
        assumeTrue(cublas != null, () -> unavailable);
    }

    @AfterAll
    static void close() {
        if (cublas != null) {
            cublas.close();
        }
        if (context != null) {
            context.close();
        }
    }

    private static float[] random(int count, long seed) {
        Random r = new Random(seed);
        float[] v = new float[count];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** Row-major {@code c[m][n] = alpha·a[m][k]·b + beta·c0}, with {@code b} stored [k][n], or [n][k] when transposed. */
    private static double[] reference(float[] a, float[] b, boolean bTransposed, float alpha, float beta, float[] c0,
                                      int m, int k, int n, int batch) {
        double[] c = new double[m * n];
        int ao = batch * m * k;
        int bo = batch * k * n;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (double) a[ao + i * k + p] * (bTransposed ? b[bo + j * k + p] : b[bo + p * n + j]);
                }
                c[i * n + j] = alpha * s + (c0 == null ? 0 : beta * (double) c0[batch * m * n + i * n + j]);
            }
        }
        return c;
    }

    private static double relativeFrobenius(float[] got, int offset, double[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[offset + i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return java.lang.Math.sqrt(num / den);
    }

    private static void assertClose(String what, float[] got, int offset, double[] want, double bound) {
        long nan = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[offset + i])) {
                nan++;
            }
        }
        assertThat(nan).as(what + ": elements left unwritten (NaN)").isZero();
        double err = relativeFrobenius(got, offset, want);
        System.out.printf("%s: relative Frobenius error %.3e (bound %.0e)%n", what, err, bound);
        assertThat(err).as(what).isLessThan(bound);
    }

    private static DeviceBuffer upload(DeviceArena arena, float[] v, Type t) {
        if (t == Type.FLOAT32) {
            return arena.upload(v);
        }
        DeviceBuffer b = arena.allocate(v.length * 2L);
        b.copyFromAsBf16(v);
        return b;
    }

    /** An output of {@code count} elements of type {@code t}, filled with NaN (whole 32-bit words, so even a bf16 tail). */
    private static DeviceBuffer poisoned(DeviceArena arena, int count, Type t) {
        DeviceBuffer c = arena.allocate((count * (long) t.bytes() + 3) & ~3L);
        c.fill32(t == Type.FLOAT32 ? Gpu.NAN32 : Gpu.NAN_BF16_PAIR);
        return c;
    }

    private static float[] download(DeviceBuffer c, int count, Type t) {
        return t == Type.FLOAT32 ? c.toFloats(count) : c.bf16ToFloats(count);
    }

    @Test
    void sgemmMatchesTheHostProductRowMajor() {
        float[] a = random(M * K, 1);
        float[] b = random(K * N, 2);
        float[] w = random(N * K, 3); // a weight stored out x in: c = a · wᵀ
        float[] c0 = random(M * N, 4);
        try (DeviceArena arena = context.arena()) {
            DeviceBuffer da = arena.upload(a);
            DeviceBuffer db = arena.upload(b);
            DeviceBuffer dw = arena.upload(w);

            DeviceBuffer c = poisoned(arena, M * N, Type.FLOAT32);
            cublas.sgemm(Op.N, Op.N, N, M, K, 1f, db.address(), N, da.address(), K, 0f, c.address(), N);
            assertClose("sgemm NN", c.toFloats(M * N), 0, reference(a, b, false, 1f, 0f, null, M, K, N, 0), 1e-5);

            c = poisoned(arena, M * N, Type.FLOAT32);
            cublas.sgemm(Op.T, Op.N, N, M, K, 1f, dw.address(), K, da.address(), K, 0f, c.address(), N);
            assertClose("sgemm a·wᵀ", c.toFloats(M * N), 0, reference(a, w, true, 1f, 0f, null, M, K, N, 0), 1e-5);

            // alpha and beta reach cuBLAS as host scalars: C = 1.5·A·B − 0.5·C0
            c = arena.upload(c0);
            cublas.sgemm(Op.N, Op.N, N, M, K, 1.5f, db.address(), N, da.address(), K, -0.5f, c.address(), N);
            assertClose("sgemm alpha/beta", c.toFloats(M * N), 0, reference(a, b, false, 1.5f, -0.5f, c0, M, K, N, 0),
                    1e-5);
        }
    }

    @Test
    void gemmExMatchesTheHostProductInEachMath() {
        float[] a = random(M * K, 5);
        float[] b = random(K * N, 6);
        double[] want = reference(a, b, false, 1f, 0f, null, M, K, N, 0);
        try (DeviceArena arena = context.arena()) {
            for (Math math : Math.values()) {
                DeviceBuffer da = upload(arena, a, math.input());
                DeviceBuffer db = upload(arena, b, math.input());
                for (Type out : math == Math.BF16 ? Type.values() : new Type[] {Type.FLOAT32}) {
                    DeviceBuffer c = poisoned(arena, M * N, out);
                    cublas.gemmEx(math, out, Op.N, Op.N, N, M, K, 1f, db.address(), N, da.address(), K, 0f,
                            c.address(), N);
                    assertClose("gemmEx " + math + " -> " + out, download(c, M * N, out), 0, want, bound(math));
                }
            }
        }
    }

    @Test
    void stridedBatchedGemmExMatchesEachBatch() {
        float[] a = random(BATCHES * M * K, 7);
        float[] b = random(BATCHES * K * N, 8);
        try (DeviceArena arena = context.arena()) {
            for (Math math : Math.values()) {
                DeviceBuffer da = upload(arena, a, math.input());
                DeviceBuffer db = upload(arena, b, math.input());
                for (Type out : math == Math.BF16 ? Type.values() : new Type[] {Type.FLOAT32}) {
                    DeviceBuffer c = poisoned(arena, BATCHES * M * N, out);
                    cublas.gemmStridedBatchedEx(math, out, Op.N, Op.N, N, M, K, 1f,
                            db.address(), N, (long) K * N, da.address(), K, (long) M * K, 0f,
                            c.address(), N, (long) M * N, BATCHES);
                    float[] got = download(c, BATCHES * M * N, out);
                    for (int i = 0; i < BATCHES; i++) {
                        assertClose("strided batched " + math + " -> " + out + ", batch " + i, got, i * M * N,
                                reference(a, b, false, 1f, 0f, null, M, K, N, i), bound(math));
                    }
                }
            }
        }
    }

    @Test
    void aBadArgumentFailsNamingTheCallAndTheStatus() {
        try (DeviceArena arena = context.arena()) {
            DeviceBuffer c = arena.allocateFloats(M * N);
            // lda smaller than the rows of A: CUBLAS_STATUS_INVALID_VALUE, checked before anything is launched
            assertThatThrownBy(() -> cublas.sgemm(Op.N, Op.N, N, M, K, 1f, c.address(), 1, c.address(), K, 0f,
                    c.address(), N))
                    .isInstanceOf(CudaException.class)
                    .hasMessageContaining("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)")
                    .hasMessageContaining("m=" + N + " n=" + M + " k=" + K);
        }
        assertThatThrownBy(() -> cublas.gemmEx(Math.TF32, Type.BF16, Op.N, Op.N, 1, 1, 1, 1f, 0, 1, 0, 1, 0f, 0, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("TF32 products write fp32");
    }

    private static double bound(Math math) {
        return switch (math) {
            case FLOAT32 -> 1e-5;
            case TF32 -> 5e-3;
            case BF16 -> 2e-2;
        };
    }
}
