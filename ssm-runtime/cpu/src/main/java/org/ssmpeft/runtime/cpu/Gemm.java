package org.ssmpeft.runtime.cpu;

/**
 * Float32 row-major matrix products that cover a linear layer {@code y = x · Wᵀ + b} (W stored (out, in) like
 * torch.nn.Linear): the forward {@link #abT}, the input gradient {@link #ab} and the weight gradient {@link #addAtB}.
 * Every matrix is given by an array, an offset and a row stride (leading dimension), BLAS style.
 *
 * <p>Two implementations: {@code GemmVector} (the Vector API, {@code FloatVector.SPECIES_PREFERRED} with FMA, register
 * tiles of 4 x 4) and {@code GemmScalar} (plain Java). The Vector API is the incubator module
 * {@code jdk.incubator.vector}, which the JVM resolves only when asked: the Maven build adds it for the compiler and
 * for tests, and a program run with {@code java -jar} must add it itself,
 * {@code java --add-modules jdk.incubator.vector -jar peft.jar ...} (the JVM then prints one "Using incubator modules"
 * warning). Without it the scalar path runs and {@code GemmVector} is never loaded. The system property
 * {@code ssmpeft.gemm=scalar} forces the scalar path.
 *
 * <p>Determinism: each output element is computed by one task with one fixed order of operations that depends on
 * neither the number of rows computed together, the tiling, nor the thread schedule. For {@link #abT} that is the
 * invariant decoding relies on: one row alone gives the same bits as the same row inside a batch.
 */
final class Gemm {

    /** Whether the Vector API path is used: the incubator module is in the boot layer and not switched off. */
    static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"scalar".equalsIgnoreCase(System.getProperty("ssmpeft.gemm", ""));

    private Gemm() {
    }

    /** A name for the path in use, for logs and benchmarks: {@code vector (512-bit)} or {@code scalar}. */
    static String implementation() {
        return VECTOR ? GemmVector.describe() : "scalar";
    }

    // C (M, N) = A (M, K) · Bᵀ + bias, B (N, K), bias (N) or null; each C element one fixed-order dot product over K
    static void abT(Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias,
                    float[] c, int cOff, int ldc, int m, int n, int k) {
        checkShape("abT", m, n, k);
        if (VECTOR) {
            GemmVector.abT(par, a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, m, n, k);
        } else {
            GemmScalar.abT(par, a, aOff, lda, b, bOff, ldb, bias, c, cOff, ldc, m, n, k);
        }
    }

    // C (M, K) (+)= A (M, N) · B (N, K): dX = dY · W
    static void ab(Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
                   int ldc, int m, int n, int k, boolean accumulate) {
        checkShape("ab", m, n, k);
        // C[i, j] (+)= Σ_p A[i, p] B[p, j]: A's row stride is lda, its step along p is 1
        if (VECTOR) {
            GemmVector.nn(par, a, aOff, lda, 1, b, bOff, ldb, c, cOff, ldc, m, k, n, accumulate);
        } else {
            GemmScalar.nn(par, a, aOff, lda, 1, b, bOff, ldb, c, cOff, ldc, m, k, n, accumulate);
        }
    }

    // C (N, K) += Aᵀ · B, A (M, N), B (M, K): dW += dYᵀ · X
    static void addAtB(Parallel par, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
                       int ldc, int m, int n, int k) {
        checkShape("addAtB", m, n, k);
        // C[i, j] += Σ_p A[p, i] B[p, j]: A's row stride is 1, its step along p is lda
        if (VECTOR) {
            GemmVector.nn(par, a, aOff, 1, lda, b, bOff, ldb, c, cOff, ldc, n, k, m, true);
        } else {
            GemmScalar.nn(par, a, aOff, 1, lda, b, bOff, ldb, c, cOff, ldc, n, k, m, true);
        }
    }

    private static void checkShape(String kernel, int m, int n, int k) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException(kernel + ": negative dimension (M, N, K) = (" + m + ", " + n + ", "
                    + k + ")");
        }
    }
}
