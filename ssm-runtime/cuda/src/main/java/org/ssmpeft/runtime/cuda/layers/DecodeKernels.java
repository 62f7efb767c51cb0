package org.ssmpeft.runtime.cuda.layers;

import java.util.ArrayList;
import java.util.List;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaModule;

/**
 * Launches the few-row kernels of {@code kernels/decode.cu}, float32: a decode step's layer in four launches instead
 * of eight (the fourth, the scan step that forms its own Δ, is {@code SelectiveScanKernels#stepDelta}). The formulas
 * are at the top of the kernel file:
 * <pre>
 *   normProduct   y (M, ldy) = RMSNorm(x)·Wᵀ + b, the normalised rows also to xn    RMSNorm + in_proj
 *   product       y (M, ldy) (+)= x·Wᵀ + b                                         out_proj into the residual
 *   convXProj     xc = silu(conv step(x)) (M, D), the conv state advanced, xdbl = xc·W_xᵀ (M, XW) through
 *                 partial products per block of {@value #CONV_XPROJ_CHANNELS} channels summed by the last block
 * </pre>
 * Matrices are row-major; W is (out, in) with rows of {@code in} floats. The products want {@code in} a multiple of
 * 4 and 16-byte aligned rows and operands ({@link #serves} says whether a shape fits; the arenas align to 256
 * bytes). Arguments are checked before anything is queued. Not thread-safe, like the stream it queues on.
 */
public final class DecodeKernels {

    /** The most rows (sequences of a decode step) the kernels take. */
    public static final int MAX_ROWS = 16;

    /** Channels per block of {@code decode_conv_xproj} (CONV_XPROJ_CHANNELS in the kernel file). */
    public static final int CONV_XPROJ_CHANNELS = 64;

    /** Shared memory a launch may use (the H200 allows 227 KB a block; kept under it). */
    static final int MAX_SHARED_BYTES = 200 * 1024;

    private static final int THREADS = 256;
    private static final int[] ROW_TILES = {1, 2, 4, 8, 16};

    /** Every entry point of {@code decode.cu} (the CI compile test checks that each one compiles). */
    public static final List<String> ENTRY_POINTS;

    static {
        List<String> names = new ArrayList<>(List.of("decode_conv_xproj"));
        for (int t : ROW_TILES) {
            names.add("decode_norm_gemv_m" + t);
            names.add("decode_gemv_m" + t);
        }
        ENTRY_POINTS = List.copyOf(names);
    }

    private final CudaModule module;

    public DecodeKernels(CudaContext context) {
        this.module = context.module("decode.cu", options());
    }

    /** NVRTC options of {@code decode.cu} (the CI compile test uses the same): products and sums round apart. */
    public static List<String> options() {
        return List.of("--fmad=false");
    }

    /** The x_proj partials of {@link #convXProj} for {@code channels} channels (blocks of the launch). */
    public static int partBlocks(int channels) {
        return (channels + CONV_XPROJ_CHANNELS - 1) / CONV_XPROJ_CHANNELS;
    }

    /**
     * Whether the kernels take a decode step of {@code rows} rows of a Mamba block with these widths: at most
     * {@value #MAX_ROWS} rows, d_model and d_inner multiples of 4 (whole float4 rows), and what the launches stage in
     * shared memory within {@link #MAX_SHARED_BYTES}.
     */
    public static boolean serves(int rows, int dModel, int dInner, int xProjWidth) {
        return rows >= 1 && rows <= MAX_ROWS && dModel % 4 == 0 && dInner % 4 == 0
                && 4L * tile(rows) * Math.max(dModel, dInner) <= MAX_SHARED_BYTES
                && convXProjShared(rows, xProjWidth) <= MAX_SHARED_BYTES;
    }

    // the row tile (MT) of m rows: the smallest compiled power of two >= m
    private static int tile(int m) {
        for (int t : ROW_TILES) {
            if (t >= m) {
                return t;
            }
        }
        throw new IllegalArgumentException("decode kernels: " + m + " rows (at most " + MAX_ROWS + ")");
    }

    private static long convXProjShared(int m, int xw) {
        return 4L * ((long) xw * (CONV_XPROJ_CHANNELS + 1) + (long) m * CONV_XPROJ_CHANNELS);
    }

    /**
     * y (M, ldy) = u·Wᵀ + b with u = g ⊙ (x · inv), inv = 1/sqrt(Σ x² / in + eps) per row (rms_norm_fwd's value);
     * x (M, ldx), g (in), W (out, in), b (out) or 0; xn (M, in) receives u, or 0.
     */
    public void normProduct(long y, int ldy, long xn, long x, int ldx, long g, double eps, long w, long bias, int m,
                            int in, int out) {
        checkProduct("normProduct", y, ldy, x, ldx, w, m, in, out);
        present("normProduct", "g", g);
        aligned("normProduct", "xn", xn);
        if (m == 0 || out == 0) {
            return;
        }
        int warpsRows = THREADS / 32 * 2; // R = 2 rows a warp
        module.kernel("decode_norm_gemv_m" + tile(m)).launch((out + warpsRows - 1) / warpsRows, 1, 1, THREADS,
                4 * tile(m) * in, y, ldy, xn, x, ldx, g, eps, w, bias, m, in, out);
    }

    /** y (M, ldy) = x·Wᵀ + b, or y += x·Wᵀ + b when {@code accumulate}: x (M, ldx), W (out, in), b (out) or 0. */
    public void product(long y, int ldy, long x, int ldx, long w, long bias, boolean accumulate, int m, int in,
                        int out) {
        checkProduct("product", y, ldy, x, ldx, w, m, in, out);
        if (m == 0 || out == 0) {
            return;
        }
        int threads = 128; // 4 warps, a row each: more blocks than SMs at out = 768 (out_proj's d_model)
        int rowsPerBlock = threads / 32;
        module.kernel("decode_gemv_m" + tile(m)).launch((out + rowsPerBlock - 1) / rowsPerBlock, 1, 1, threads,
                4 * tile(m) * in,
                y, ldy, x, ldx, w, bias, accumulate ? 1 : 0, m, in, out);
    }

    /**
     * One decode step's conv and x_proj: x (M, ldx) the new inputs (the x half of [x | z]), cw (D, K), cb (D) or 0,
     * state (M, D, K) advanced in place, wx (XW, D) -> xc (M, D) = silu(conv), xdbl (M, XW) = xc·W_xᵀ, through part
     * ({@link #partBlocks}(D), M, XW), part[blk] = Σ over block blk's channels, summed in block order by the last
     * block to finish. counter: one uint32 that is 0 (a fresh zeroed one; each launch leaves it at 0 again).
     */
    public void convXProj(long xc, long part, long xdbl, long counter, long x, int ldx, long cw, long cb, long state,
                          long wx, int m, int d, int kernel, int xw) {
        if (m < 0 || d < 0 || xw < 0) {
            throw new IllegalArgumentException("convXProj: m, d, xw = " + m + ", " + d + ", " + xw);
        }
        if (m > MAX_ROWS) {
            throw new IllegalArgumentException("convXProj: " + m + " rows (at most " + MAX_ROWS + ")");
        }
        if (kernel < 1 || kernel > LayerKernels.MAX_CONV_KERNEL) {
            throw new IllegalArgumentException("convXProj: conv kernel " + kernel + " outside 1 .. "
                    + LayerKernels.MAX_CONV_KERNEL);
        }
        if (ldx < d) {
            throw new IllegalArgumentException("convXProj: row stride ldx = " + ldx + " is below the row width " + d);
        }
        for (var e : new Object[][] {{"xc", xc}, {"part", part}, {"xdbl", xdbl}, {"counter", counter}, {"x", x},
                {"cw", cw}, {"state", state}, {"wx", wx}}) {
            present("convXProj", (String) e[0], (Long) e[1]);
        }
        long shared = convXProjShared(m, xw);
        if (shared > MAX_SHARED_BYTES) {
            throw new IllegalArgumentException("convXProj: x_proj width " + xw + " needs " + shared
                    + " bytes of shared memory (at most " + MAX_SHARED_BYTES + ")");
        }
        if (m == 0 || d == 0) {
            return;
        }
        module.kernel("decode_conv_xproj").launch(partBlocks(d), 1, 1, THREADS, (int) shared, xc, part, xdbl,
                counter, x, ldx, cw, cb, state, wx, m, d, kernel, xw);
    }

    private static void checkProduct(String call, long y, int ldy, long x, int ldx, long w, int m, int in, int out) {
        if (m < 0 || in < 0 || out < 0) {
            throw new IllegalArgumentException(call + ": m, in, out = " + m + ", " + in + ", " + out);
        }
        if (m > MAX_ROWS) {
            throw new IllegalArgumentException(call + ": " + m + " rows (at most " + MAX_ROWS + ")");
        }
        if (in % 4 != 0 || ldx % 4 != 0) {
            throw new IllegalArgumentException(call + ": the input width " + in + " and its row stride " + ldx
                    + " must be multiples of 4 (float4 rows)");
        }
        if (ldx < in || ldy < out) {
            throw new IllegalArgumentException(call + ": row strides ldx = " + ldx + ", ldy = " + ldy
                    + " below the widths " + in + ", " + out);
        }
        if (4L * tile(Math.max(1, m)) * in > MAX_SHARED_BYTES) {
            throw new IllegalArgumentException(call + ": " + m + " rows of " + in + " floats exceed "
                    + MAX_SHARED_BYTES + " bytes of shared memory");
        }
        present(call, "y", y);
        present(call, "x", x);
        present(call, "w", w);
        aligned(call, "x", x);
        aligned(call, "w", w);
    }

    private static void present(String call, String name, long address) {
        if (address == 0) {
            throw new IllegalArgumentException(call + ": " + name + " is required (device address 0 given)");
        }
    }

    private static void aligned(String call, String name, long address) {
        if ((address & 15) != 0) {
            throw new IllegalArgumentException(call + ": " + name + " at 0x" + Long.toHexString(address)
                    + " is not 16-byte aligned (float4 rows)");
        }
    }
}
