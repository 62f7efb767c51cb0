package org.ssmpeft.runtime.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The three {@link Gemm} products through OpenBLAS's {@code cblas_sgemm}, for measuring the project's kernels against
 * a tuned BLAS ({@link GemmBench}). <b>Optional and never used by the backend's arithmetic</b>: the cpu backend always
 * computes with {@link Gemm}, whose fixed summation order the bit-for-bit tests rely on (a BLAS picks its blocking
 * by the matrix size, so a row's result would depend on the batch it is in).
 *
 * <p>The library is the one bundled in {@code org.bytedeco:openblas} (classifier {@code linux-x86_64}, an optional
 * dependency of this module): JavaCPP's {@code Loader} extracts it to its cache and loads it, then
 * {@code java.lang.foreign} binds {@code cblas_sgemm} and {@code openblas_set_num_threads} and passes the Java arrays
 * themselves (a critical downcall with heap access: no copy, the GC waits for the call). Without the jars, or when
 * the native library does not load, {@link #available()} is false and {@link #unavailableReason()} says why; the
 * products then throw {@link IllegalStateException} with that reason.
 *
 * <p>Threads: OpenBLAS runs its own thread pool, process-wide; {@link #setThreads} pins it (a fair comparison uses
 * the thread count of the kernel it is compared with). Arguments are checked against the arrays before the call, so
 * a wrong leading dimension or offset throws here instead of reading outside an array in native code. Run with
 * {@code --enable-native-access=ALL-UNNAMED} to silence the JVM's restricted-method warnings.
 */
final class OpenBlasGemm {

    /** The Maven coordinates it needs, for messages. */
    static final String ARTIFACTS = "org.bytedeco:openblas:0.3.31-1.5.13 with its linux-x86_64 classifier jar and "
            + "org.bytedeco:javacpp:1.5.13";

    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANS = 111;
    private static final int TRANS = 112;

    private static final class Holder {
        static final OpenBlasGemm INSTANCE = load(OpenBlasGemm.class.getClassLoader());
    }

    private final MethodHandle sgemm;
    private final MethodHandle setNumThreads;
    private final String description;
    private final String reason;
    private int threads = -1;

    private OpenBlasGemm(MethodHandle sgemm, MethodHandle setNumThreads, String description, String reason) {
        this.sgemm = sgemm;
        this.setNumThreads = setNumThreads;
        this.description = description;
        this.reason = reason;
    }

    /** The process-wide instance, loaded on first use from this class's loader. */
    static OpenBlasGemm instance() {
        return Holder.INSTANCE;
    }

    /** Whether OpenBLAS loaded and its products can be called. */
    boolean available() {
        return reason == null;
    }

    /** Why OpenBLAS is unavailable; empty when it is available. */
    Optional<String> unavailableReason() {
        return Optional.ofNullable(reason);
    }

    /** {@code openblas_get_config()} and {@code openblas_get_corename()} when available, else the reason. */
    String describe() {
        return available() ? description : "unavailable: " + reason;
    }

    /** Pins OpenBLAS's thread pool to {@code n} threads (process-wide; a no-op when it is already there). */
    synchronized void setThreads(int n) {
        requireAvailable();
        if (n < 1) {
            throw new IllegalArgumentException("threads must be at least 1, found " + n);
        }
        if (n != threads) {
            try {
                setNumThreads.invokeExact(n);
            } catch (Throwable e) {
                throw new IllegalStateException("openblas_set_num_threads(" + n + ") failed", e);
            }
            threads = n;
        }
    }

    /** The thread count last set by {@link #setThreads}, or -1 when OpenBLAS's own default is in force. */
    synchronized int threads() {
        return threads;
    }

    /** C (M, N) = A (M, K) · Bᵀ + bias, B (N, K), bias (N) or null: as {@link Gemm#abT}. */
    void abT(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] bias, float[] c, int cOff, int ldc,
             int m, int n, int k) {
        requireAvailable();
        check("abT", "A", a, aOff, lda, m, k);
        check("abT", "B", b, bOff, ldb, n, k);
        check("abT", "C", c, cOff, ldc, m, n);
        if (bias != null && bias.length < n) {
            throw new IllegalArgumentException("abT: bias has " + bias.length + " elements, N = " + n);
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (bias != null) {
            for (int i = 0; i < m; i++) {
                System.arraycopy(bias, 0, c, cOff + i * ldc, n);
            }
        }
        if (k == 0) {
            if (bias == null) {
                fill(c, cOff, ldc, m, n);
            }
            return;
        }
        call(NO_TRANS, TRANS, m, n, k, a, aOff, lda, b, bOff, ldb, bias == null ? 0f : 1f, c, cOff, ldc);
    }

    /** C (M, K) (+)= A (M, N) · B (N, K): as {@link Gemm#ab}. */
    void ab(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, int m, int n,
            int k, boolean accumulate) {
        requireAvailable();
        check("ab", "A", a, aOff, lda, m, n);
        check("ab", "B", b, bOff, ldb, n, k);
        check("ab", "C", c, cOff, ldc, m, k);
        if (m == 0 || k == 0) {
            return;
        }
        if (n == 0) {
            if (!accumulate) {
                fill(c, cOff, ldc, m, k);
            }
            return;
        }
        call(NO_TRANS, NO_TRANS, m, k, n, a, aOff, lda, b, bOff, ldb, accumulate ? 1f : 0f, c, cOff, ldc);
    }

    /** C (N, K) += Aᵀ · B, A (M, N), B (M, K): as {@link Gemm#addAtB}. */
    void addAtB(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, int m,
                int n, int k) {
        requireAvailable();
        check("addAtB", "A", a, aOff, lda, m, n);
        check("addAtB", "B", b, bOff, ldb, m, k);
        check("addAtB", "C", c, cOff, ldc, n, k);
        if (m == 0 || n == 0 || k == 0) {
            return;
        }
        call(TRANS, NO_TRANS, n, k, m, a, aOff, lda, b, bOff, ldb, 1f, c, cOff, ldc);
    }

    private void call(int transA, int transB, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff,
                      int ldb, float beta, float[] c, int cOff, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, transA, transB, m, n, k, 1f, slice(a, aOff), lda, slice(b, bOff), ldb,
                    beta, slice(c, cOff), ldc);
        } catch (Throwable e) {
            throw new IllegalStateException("cblas_sgemm failed", e);
        }
    }

    private static MemorySegment slice(float[] x, int off) {
        return MemorySegment.ofArray(x).asSlice((long) off * Float.BYTES);
    }

    private static void fill(float[] c, int cOff, int ldc, int rows, int cols) {
        for (int i = 0; i < rows; i++) {
            java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + cols, 0f);
        }
    }

    // A row-major (rows, cols) matrix at x[off] with row stride ld must lie inside x, and ld must cover a row
    private static void check(String kernel, String name, float[] x, int off, int ld, int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(kernel + ": " + name + " has a negative dimension (" + rows + ", "
                    + cols + ")");
        }
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(kernel + ": leading dimension of " + name + " is " + ld
                    + ", less than its " + cols + " columns");
        }
        if (off < 0) {
            throw new IllegalArgumentException(kernel + ": negative offset " + off + " of " + name);
        }
        long end = rows == 0 || cols == 0 ? off : off + (long) (rows - 1) * ld + cols;
        if (end > x.length) {
            throw new IllegalArgumentException(kernel + ": " + name + " (" + rows + ", " + cols + ") at offset " + off
                    + " with leading dimension " + ld + " needs " + end + " elements, the array has " + x.length);
        }
    }

    private void requireAvailable() {
        if (reason != null) {
            throw new IllegalStateException("OpenBLAS is unavailable: " + reason);
        }
    }

    static OpenBlasGemm unavailable(String reason) {
        return new OpenBlasGemm(null, null, null, reason);
    }

    /**
     * Loads OpenBLAS through the JavaCPP classes that {@code loader} sees (reflectively, so this class needs neither
     * jar to load): {@code Loader.load(openblas_nolapack.class)} extracts the bundled libraries and loads them, then
     * {@link #bind} finds {@code cblas_sgemm} in the extracted {@code libopenblas}. Never throws: a failure becomes
     * an unavailable instance whose reason names the missing piece.
     */
    static OpenBlasGemm load(ClassLoader loader) {
        Class<?> javacpp;
        Class<?> presets;
        try {
            javacpp = Class.forName("org.bytedeco.javacpp.Loader", false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return unavailable("JavaCPP (org.bytedeco.javacpp.Loader) is not on the class path; add " + ARTIFACTS);
        }
        try {
            presets = Class.forName("org.bytedeco.openblas.global.openblas_nolapack", false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return unavailable("the OpenBLAS presets (org.bytedeco.openblas.global.openblas_nolapack) are not on the "
                    + "class path; add " + ARTIFACTS);
        }
        String jni;
        try {
            jni = (String) javacpp.getMethod("load", Class.class).invoke(null, presets);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            return unavailable("JavaCPP could not load OpenBLAS's native library for platform "
                    + platform(javacpp) + " (is the org.bytedeco:openblas linux-x86_64 classifier jar on the class "
                    + "path?): " + cause);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return unavailable("JavaCPP could not load OpenBLAS: " + e);
        }
        if (jni == null) {
            return unavailable("JavaCPP found no OpenBLAS native library for platform " + platform(javacpp)
                    + "; add the org.bytedeco:openblas classifier jar of this platform");
        }
        List<Path> candidates = new ArrayList<>();
        Path dir = Path.of(jni).getParent();
        if (dir != null) {
            for (String name : List.of("libopenblas_nolapack.so.0", "libopenblas.so.0", "libopenblas_nolapack.so",
                    "libopenblas.so")) {
                Path p = dir.resolve(name);
                if (Files.exists(p)) {
                    candidates.add(p);
                }
            }
        }
        if (candidates.isEmpty()) {
            return unavailable("JavaCPP loaded " + jni + " but no libopenblas lies next to it");
        }
        return bind(candidates.get(0));
    }

    private static String platform(Class<?> javacpp) {
        try {
            return (String) javacpp.getMethod("getPlatform").invoke(null);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return "(unknown)";
        }
    }

    /** Binds {@code cblas_sgemm} and friends in the shared library at {@code library}; never throws. */
    static OpenBlasGemm bind(Path library) {
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException | IllegalCallerException | UnsatisfiedLinkError e) {
            return unavailable("cannot open the native library " + library + ": " + e.getMessage());
        }
        Linker linker = Linker.nativeLinker();
        var sgemmSymbol = lookup.find("cblas_sgemm");
        var threadsSymbol = lookup.find("openblas_set_num_threads");
        if (sgemmSymbol.isEmpty() || threadsSymbol.isEmpty()) {
            return unavailable(library + " has no cblas_sgemm or openblas_set_num_threads: not an OpenBLAS");
        }
        var i32 = ValueLayout.JAVA_INT;
        var f32 = ValueLayout.JAVA_FLOAT;
        var ptr = ValueLayout.ADDRESS;
        // void cblas_sgemm(order, transA, transB, M, N, K, alpha, *A, lda, *B, ldb, beta, *C, ldc)
        MethodHandle sgemm = linker.downcallHandle(sgemmSymbol.get(),
                FunctionDescriptor.ofVoid(i32, i32, i32, i32, i32, i32, f32, ptr, i32, ptr, i32, f32, ptr, i32),
                Linker.Option.critical(true));
        MethodHandle setThreads = linker.downcallHandle(threadsSymbol.get(), FunctionDescriptor.ofVoid(i32));
        String description = string(linker, lookup, "openblas_get_config") + ", core "
                + string(linker, lookup, "openblas_get_corename") + " (" + library.getFileName() + ")";
        return new OpenBlasGemm(sgemm, setThreads, description, null);
    }

    private static String string(Linker linker, SymbolLookup lookup, String function) {
        var symbol = lookup.find(function);
        if (symbol.isEmpty()) {
            return "?";
        }
        try {
            var h = linker.downcallHandle(symbol.get(), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MemorySegment s = (MemorySegment) h.invokeExact();
            return s.equals(MemorySegment.NULL) ? "?" : s.reinterpret(4096).getString(0);
        } catch (Throwable e) {
            return "?";
        }
    }
}
