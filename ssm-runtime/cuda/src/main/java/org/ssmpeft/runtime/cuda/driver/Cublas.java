package org.ssmpeft.runtime.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * cuBLAS ({@code libcublas.so.13}, with {@code libcublasLt.so.13} from the same folder) through
 * {@code java.lang.foreign}: one handle bound to a {@link CudaContext}'s stream, so products are ordered with the
 * kernels and copies queued there. Every call checks the status and throws a {@link CudaException} naming the call,
 * the shape and the status ({@code cublasGetStatusName}).
 *
 * <p><b>Layout.</b> cuBLAS is column-major, as its arguments below are. A row-major {@code r x c} matrix with row
 * stride {@code ld} is, read column-major, its {@code c x r} transpose with leading dimension {@code ld}. So a
 * row-major caller computes {@code C = op(A)·op(B)} (C is {@code m x n}, op(A) {@code m x k}) as the column-major
 * {@code Cᵀ = op(B)ᵀ·op(A)ᵀ}: swap the operands and {@code m} with {@code n}, keep the transpose flags and pass the
 * row strides as leading dimensions:
 * <pre>{@code
 * // row-major C[m][n] = A[m][k] · B[k][n]
 * cublas.sgemm(Op.N, Op.N, n, m, k, 1f, b, n, a, k, 0f, c, n);
 * // row-major C[m][n] = A[m][k] · B[n][k]ᵀ   (a weight stored out x in)
 * cublas.sgemm(Op.T, Op.N, n, m, k, 1f, b, k, a, k, 0f, c, n);
 * }</pre>
 *
 * <p><b>Precision.</b> The handle runs in {@code CUBLAS_PEDANTIC_MATH}, so {@link #sgemm} is true fp32 whatever
 * the environment asks for (TF32 or BF16x9 emulation of fp32), and with
 * {@code CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION}, so a bf16 output is rounded once from the fp32
 * accumulator, never in split-K partial sums. {@link #gemmEx} names its compute type explicitly ({@link Math}),
 * which the math mode does not override.
 *
 * <p>Scalars are host pointers (the handle's default pointer mode), written per call into a small confined arena.
 * Calls act on the thread's current context, as driver calls do: {@link CudaContext#bind()} on a thread other than
 * the one that created this handle. Not thread-safe: one handle per thread (cuBLAS's own rule).
 */
public final class Cublas implements AutoCloseable {

    public static final int CUBLAS_PEDANTIC_MATH = 2;
    public static final int CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16;
    public static final int CUBLAS_COMPUTE_32F = 68;
    public static final int CUBLAS_COMPUTE_32F_PEDANTIC = 69;
    public static final int CUBLAS_COMPUTE_32F_FAST_TF32 = 77;
    public static final int CUBLAS_GEMM_DEFAULT = -1;
    public static final int CUDA_R_32F = 0;
    public static final int CUDA_R_16BF = 14;

    /** {@code cublasOperation_t}: the operand as stored, or transposed. */
    public enum Op {
        N(0), T(1);

        final int code;

        Op(int code) {
            this.code = code;
        }
    }

    /** Element type of a matrix in device memory. */
    public enum Type {
        FLOAT32(CUDA_R_32F, 4), BF16(CUDA_R_16BF, 2);

        final int cudaType;
        private final int bytes;

        Type(int cudaType, int bytes) {
            this.cudaType = cudaType;
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    /**
     * The arithmetic of a {@link #gemmEx}: the inputs' type and cuBLAS's compute type; products accumulate in fp32
     * in all three.
     */
    public enum Math {
        /** fp32 inputs, every stage in fp32 ({@code CUBLAS_COMPUTE_32F_PEDANTIC}: no TF32, no emulation). */
        FLOAT32(Type.FLOAT32, CUBLAS_COMPUTE_32F_PEDANTIC),
        /** fp32 inputs rounded to TF32 (10-bit mantissa) on the tensor cores ({@code CUBLAS_COMPUTE_32F_FAST_TF32}). */
        TF32(Type.FLOAT32, CUBLAS_COMPUTE_32F_FAST_TF32),
        /** bf16 inputs ({@code CUDA_R_16BF}), fp32 accumulate ({@code CUBLAS_COMPUTE_32F}); output fp32 or bf16. */
        BF16(Type.BF16, CUBLAS_COMPUTE_32F);

        private final Type input;
        final int computeType;

        Math(Type input, int computeType) {
            this.input = input;
            this.computeType = computeType;
        }

        /** The type A and B must hold. */
        public Type input() {
            return input;
        }
    }

    /** {@code cublasStatus_t} names as in {@code cublas_api.h} (CUDA 13), for when {@code cublasGetStatusName} is absent. */
    static String statusName(int status) {
        return switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "CUBLAS_STATUS_" + status;
        };
    }

    /** The downcalls of libcublas: stateless, linked once per JVM. */
    static final class Api {

        final MethodHandle create, destroy, setStream, setMathMode, sgemm, gemmEx, gemmStridedBatchedEx;
        final MethodHandle getStatusName, getStatusString; // null when the library predates them

        private Api(SymbolLookup lib) throws CudaUnavailableException {
            Downcalls d = new Downcalls(lib, "libcublas");
            create = d.status("cublasCreate_v2", ADDRESS);
            destroy = d.status("cublasDestroy_v2", JAVA_LONG);
            setStream = d.status("cublasSetStream_v2", JAVA_LONG, JAVA_LONG);
            setMathMode = d.status("cublasSetMathMode", JAVA_LONG, JAVA_INT);
            sgemm = d.status("cublasSgemm_v2", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
            gemmEx = d.status("cublasGemmEx", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
            gemmStridedBatchedEx = d.status("cublasGemmStridedBatchedEx", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT,
                    JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                    JAVA_INT);
            getStatusName = optional(lib, "cublasGetStatusName");
            getStatusString = optional(lib, "cublasGetStatusString");
        }

        private static MethodHandle optional(SymbolLookup lib, String name) {
            return lib.find(name)
                    .map(s -> Linker.nativeLinker().downcallHandle(s, FunctionDescriptor.of(ADDRESS, JAVA_INT)))
                    .orElse(null);
        }

        private static volatile Api loaded;

        static Api get() throws CudaUnavailableException {
            Api a = loaded;
            if (a == null) {
                synchronized (Api.class) {
                    a = loaded;
                    if (a == null) {
                        // libcublas needs libcublasLt by soname; loading it first from the same folder resolves it
                        // without LD_LIBRARY_PATH (the wheels' RUNPATH $ORIGIN does too, a toolkit's lib64 may not)
                        var lib = NativeLibraries.load("cuBLAS", List.of("libcublas.so.13"),
                                List.of("libcublasLt.so.13"));
                        loaded = a = new Api(lib);
                    }
                }
            }
            return a;
        }
    }

    private final Api api;
    private final CudaContext context;
    private final long handle;
    private boolean closed;

    private Cublas(Api api, CudaContext context, long handle) {
        this.api = api;
        this.context = context;
        this.handle = handle;
    }

    /**
     * A handle on {@code context}'s device, bound to its stream. Unavailable when cuBLAS 13 is not found (the reason
     * lists where it looked); a {@link CudaException} when it is found but the handle cannot be made.
     */
    public static Cublas create(CudaContext context) throws CudaUnavailableException {
        Api api = Api.get();
        context.bind();
        long handle;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(JAVA_LONG);
            check(api, "cublasCreate_v2", (int) api.create.invokeExact(h));
            handle = h.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        Cublas c = new Cublas(api, context, handle);
        try {
            c.check("cublasSetStream_v2", (int) api.setStream.invokeExact(handle, context.stream()));
            c.check("cublasSetMathMode", (int) api.setMathMode.invokeExact(handle,
                    CUBLAS_PEDANTIC_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
        } catch (Throwable t) {
            try {
                c.close();
            } catch (RuntimeException e) {
                t.addSuppressed(e);
            }
            throw rethrow(t);
        }
        return c;
    }

    public CudaContext context() {
        return context;
    }

    /** The {@code cublasHandle_t}, for calls this class does not bind. */
    public long handle() {
        return handle;
    }

    // ---- products

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C}, fp32, column-major ({@code cublasSgemm_v2}): C is {@code m x n},
     * op(A) {@code m x k}, op(B) {@code k x n}; {@code a}, {@code b}, {@code c} are device addresses. With
     * {@code beta == 0} C is only written (NaN there does not propagate).
     */
    public void sgemm(Op ta, Op tb, int m, int n, int k, float alpha, long a, int lda, long b, int ldb, float beta,
                      long c, int ldc) {
        requireOpen();
        try (Arena s = Arena.ofConfined()) {
            int r = (int) api.sgemm.invokeExact(handle, ta.code, tb.code, m, n, k, s.allocateFrom(JAVA_FLOAT, alpha),
                    a, lda, b, ldb, s.allocateFrom(JAVA_FLOAT, beta), c, ldc);
            check("cublasSgemm_v2", r, ta, tb, m, n, k, 1);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * As {@link #sgemm}, with the arithmetic {@code math} ({@code cublasGemmEx}): A and B hold
     * {@link Math#input()}, C holds {@code out} (fp32, or bf16 with {@link Math#BF16}); alpha and beta are fp32.
     */
    public void gemmEx(Math math, Type out, Op ta, Op tb, int m, int n, int k, float alpha, long a, int lda, long b,
                       int ldb, float beta, long c, int ldc) {
        requireOpen();
        requireOutput(math, out);
        int in = math.input.cudaType;
        try (Arena s = Arena.ofConfined()) {
            int r = (int) api.gemmEx.invokeExact(handle, ta.code, tb.code, m, n, k, s.allocateFrom(JAVA_FLOAT, alpha),
                    a, in, lda, b, in, ldb, s.allocateFrom(JAVA_FLOAT, beta), c, out.cudaType, ldc,
                    math.computeType, CUBLAS_GEMM_DEFAULT);
            check("cublasGemmEx(" + math + " -> " + out + ")", r, ta, tb, m, n, k, 1);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code batches} independent {@link #gemmEx} products ({@code cublasGemmStridedBatchedEx}): product {@code i}
     * reads {@code a + i·strideA}, {@code b + i·strideB} and writes {@code c + i·strideC}; strides count elements,
     * not bytes.
     */
    public void gemmStridedBatchedEx(Math math, Type out, Op ta, Op tb, int m, int n, int k, float alpha,
                                     long a, int lda, long strideA, long b, int ldb, long strideB, float beta,
                                     long c, int ldc, long strideC, int batches) {
        requireOpen();
        requireOutput(math, out);
        int in = math.input.cudaType;
        try (Arena s = Arena.ofConfined()) {
            int r = (int) api.gemmStridedBatchedEx.invokeExact(handle, ta.code, tb.code, m, n, k,
                    s.allocateFrom(JAVA_FLOAT, alpha), a, in, lda, strideA, b, in, ldb, strideB,
                    s.allocateFrom(JAVA_FLOAT, beta), c, out.cudaType, ldc, strideC, batches,
                    math.computeType, CUBLAS_GEMM_DEFAULT);
            check("cublasGemmStridedBatchedEx(" + math + " -> " + out + ")", r, ta, tb, m, n, k, batches);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void requireOutput(Math math, Type out) {
        if (math != Math.BF16 && out != Type.FLOAT32) {
            throw new IllegalArgumentException(math + " products write fp32, not " + out);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the cuBLAS handle is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            check("cublasDestroy_v2", (int) api.destroy.invokeExact(handle));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- status checking

    private void check(String call, int status) {
        check(api, call, status);
    }

    private void check(String call, int status, Op ta, Op tb, int m, int n, int k, int batches) {
        if (status != 0) {
            throw new CudaException(call, status, name(api, status), "op " + ta + tb + ", m=" + m + " n=" + n + " k="
                    + k + (batches == 1 ? "" : " batches=" + batches) + "; " + describe(api, status));
        }
    }

    private static void check(Api api, String call, int status) {
        if (status != 0) {
            throw new CudaException(call, status, name(api, status), describe(api, status));
        }
    }

    /** {@code cublasGetStatusName}, e.g. CUBLAS_STATUS_INVALID_VALUE, or the header's name when it is missing. */
    static String name(Api api, int status) {
        String s = string(api.getStatusName, status);
        return s == null || s.isBlank() ? statusName(status) : s;
    }

    private static String describe(Api api, int status) {
        String s = string(api.getStatusString, status);
        return s == null ? "" : s;
    }

    private static String string(MethodHandle h, int status) {
        if (h == null) {
            return null;
        }
        try {
            MemorySegment s = (MemorySegment) h.invokeExact(status);
            return s.address() == 0 ? null : s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
