package org.ssmpeft.runtime.cuda.layers;

import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.Cublas.Math;
import org.ssmpeft.runtime.cuda.driver.Cublas.Op;
import org.ssmpeft.runtime.cuda.driver.Cublas.Type;

/**
 * The cpu backend's {@code Linear} on the device, through cuBLAS in the arithmetic of its {@link Math}: the
 * projections y = x·Wᵀ + b of row-major activations and (out, in) weights, and their backward. Every matrix is
 * row-major with a row stride (ld, in elements); an operand that starts at a column is passed as its address plus
 * 4·column. Not thread-safe (one cuBLAS handle).
 * <pre>
 *   forward        y  = x·Wᵀ + b                (M, out)
 *   forwardAdd     y += scale · x·Wᵀ
 *   backwardInput  dx = or += scale · dy·W      (M, in)
 *   backwardWeight dW += scale · dyᵀ·x          (out, in)
 *   backwardBias   db += Σ_rows dy              (out)
 * </pre>
 * cuBLAS is column-major: a row-major (r, c) matrix with row stride ld is, to it, the column-major (c, r) matrix
 * with leading dimension ld, its transpose. So row-major y = x·Wᵀ is column-major yᵀ = W·xᵀ = op_T(Wᵀ)·xᵀ, and
 * likewise for the backward products (each method names its call).
 *
 * <p><b>Arithmetic.</b> {@link Math#FLOAT32}: true fp32 ({@code cublasSgemm} on the handle's pedantic math).
 * {@link Math#TF32}: the very same operands through {@code cublasGemmEx} with TF32 compute (fp32 in and out, the
 * inputs rounded to TF32 by the tensor cores). {@link Math#BF16}: {@code cublasGemmEx} with bf16 inputs, fp32
 * accumulate and fp32 output; then the product's two inputs (x and W, dy and W, dy and x) hold bf16 (2-byte
 * elements, row strides in elements as for fp32) and every output, the bias and dy of {@link #backwardBias} are
 * fp32. The caller rounds the inputs to bf16 ({@code LayerKernels.toBf16}). One instance per arithmetic; they may
 * share one handle.
 */
public final class DeviceLinear {

    private final Cublas cublas;
    private final LayerKernels kernels;
    private final Math math;

    /** True fp32 products ({@link Math#FLOAT32}). */
    public DeviceLinear(Cublas cublas, LayerKernels kernels) {
        this(cublas, kernels, Math.FLOAT32);
    }

    /** Products in {@code math}; with {@link Math#BF16} the inputs are bf16 (see the class comment). */
    public DeviceLinear(Cublas cublas, LayerKernels kernels, Math math) {
        this.cublas = cublas;
        this.kernels = kernels;
        this.math = java.util.Objects.requireNonNull(math, "math");
    }

    public Cublas cublas() {
        return cublas;
    }

    /** The arithmetic of this instance's products. */
    public Math math() {
        return math;
    }

    // C = alpha·op(A)·op(B) + beta·C column-major, in this instance's arithmetic (fp32 C in every mode)
    private void gemm(Op ta, Op tb, int m, int n, int k, float alpha, long a, int lda, long b, int ldb, float beta,
                      long c, int ldc) {
        if (math == Math.FLOAT32) {
            cublas.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            cublas.gemmEx(math, Type.FLOAT32, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /** x: (M, in) row stride ldx, w: (out, in), b: (out) or 0 -> y: (M, out) row stride ldy (assigned). */
    public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
        check("forward", m, in, out);
        ld("forward", "ldx", ldx, in);
        ld("forward", "ldy", ldy, out);
        if (m == 0 || out == 0) {
            return;
        }
        if (b != 0) {
            kernels.copy2d(y, ldy, b, 0, m, out); // every row starts at the bias, the product is added (beta 1)
        }
        if (in == 0) {
            if (b == 0) {
                fillRows(y, ldy, m, out);
            }
            return;
        }
        // yᵀ (out, M) = op_T(Wᵀ: in x out, ld in) · xᵀ (in, M, ld ldx)
        gemm(Op.T, Op.N, out, m, in, 1f, w, in, x, ldx, b != 0 ? 1f : 0f, y, ldy);
    }

    /** x: (M, in) row stride ldx, w: (out, in) -> y: (M, out) row stride ldy += scale · x·Wᵀ. */
    public void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out) {
        check("forwardAdd", m, in, out);
        ld("forwardAdd", "ldx", ldx, in);
        ld("forwardAdd", "ldy", ldy, out);
        if (m == 0 || out == 0 || in == 0) {
            return;
        }
        gemm(Op.T, Op.N, out, m, in, scale, w, in, x, ldx, 1f, y, ldy);
    }

    /** dy: (M, out) row stride lddy, w: (out, in) -> dx: (M, in) row stride lddx, = or += scale · dy·W. */
    public void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                              boolean accumulate) {
        check("backwardInput", m, in, out);
        ld("backwardInput", "lddx", lddx, in);
        ld("backwardInput", "lddy", lddy, out);
        if (m == 0 || in == 0) {
            return;
        }
        if (out == 0) {
            if (!accumulate) {
                fillRows(dx, lddx, m, in);
            }
            return;
        }
        // dxᵀ (in, M) = Wᵀ (in x out, ld in) · dyᵀ (out, M, ld lddy)
        gemm(Op.N, Op.N, in, m, out, scale, w, in, dy, lddy, accumulate ? 1f : 0f, dx, lddx);
    }

    /** dy: (M, out) row stride lddy, x: (M, in) row stride ldx -> dw: (out, in) (row stride in) += scale · dyᵀ·x. */
    public void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out) {
        check("backwardWeight", m, in, out);
        ld("backwardWeight", "lddy", lddy, out);
        ld("backwardWeight", "ldx", ldx, in);
        if (m == 0 || in == 0 || out == 0) {
            return;
        }
        // dWᵀ (in, out, ld in) += xᵀ (in, M, ld ldx) · op_T(dyᵀ: out x M, ld lddy)
        gemm(Op.N, Op.T, in, out, m, scale, x, ldx, dy, lddy, 1f, dw, in);
    }

    /** dy: (M, out) row stride lddy -> db: (out) += Σ_rows dy (deterministic order). */
    public void backwardBias(long db, long dy, int lddy, int m, int out) {
        check("backwardBias", m, 1, out);
        ld("backwardBias", "lddy", lddy, out);
        kernels.sumBatches(db, dy, m, lddy, 1, out, out, true);
    }

    private static void check(String call, int m, int in, int out) {
        if (m < 0 || in < 0 || out < 0) {
            throw new IllegalArgumentException(call + ": negative size (m " + m + ", in " + in + ", out " + out + ")");
        }
    }

    // cuBLAS's rule too: a leading dimension of at least the stored rows (and 1)
    private static void ld(String call, String name, int ld, int width) {
        if (ld < java.lang.Math.max(1, width)) {
            throw new IllegalArgumentException(call + ": row stride " + name + " = " + ld + " is below the row width "
                    + width);
        }
    }

    // a product over an empty inner dimension is zero
    private void fillRows(long y, int ldy, int m, int cols) {
        if (ldy == cols) {
            kernels.fill(y, (long) m * cols, 0f);
        } else {
            for (int r = 0; r < m; r++) {
                kernels.fill(y + 4L * r * ldy, cols, 0f);
            }
        }
    }
}
