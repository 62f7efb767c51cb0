package org.ssmpeft.runtime.cuda.scan;

import java.util.List;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaModule;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.driver.Kernel;

/**
 * Launches the fused selective-scan kernels of {@code kernels/selective_scan.cu} (the formulas are at the top of
 * that file): forward with the state hooks (h0, h', y', the additional-scan extension), backward with
 * recomputation from tile checkpoints, and the single decoding step. Work is queued on the context's stream.
 *
 * <p>Sizes, for {@link ScanShape} s with K = {@link #statesPerLane} and TT = {@link #tile}: the training forward
 * writes {@link #checkpointFloats} floats of checkpoints (B, ceil(L/TT), D, N + n'), which the backward reads; the
 * backward needs a float workspace of {@link #workFloats} floats.
 */
public final class SelectiveScanKernels {

    /** The largest N + n' a lane layout is compiled for (16 states per lane x 4 lanes). */
    public static final int MAX_STATES = 64;
    static final int LANES = 4;
    static final int CHANNELS_PER_BLOCK = 32;
    static final int THREADS = LANES * CHANNELS_PER_BLOCK;

    /** Element type of the token tensors (x, Δ, B, C, z, y and their gradients); state and parameters stay float32. */
    public enum Precision {
        FLOAT32("f32", 4), BF16("bf16", 2);

        private final String tag;
        private final int bytes;

        Precision(String tag, int bytes) {
            this.tag = tag;
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }

        /** {@code values} on the device in this element type (bf16: rounded to nearest even). */
        public DeviceBuffer upload(DeviceArena arena, float[] values) {
            if (this == FLOAT32) {
                return arena.upload(values);
            }
            DeviceBuffer buf = arena.allocate(values.length * 2L);
            buf.copyFromAsBf16(values);
            return buf;
        }

        /** The first {@code count} elements of a buffer of this element type, widened to float. */
        public float[] read(DeviceBuffer buffer, int count) {
            return this == FLOAT32 ? buffer.toFloats(count) : buffer.bf16ToFloats(count);
        }
    }

    private final CudaContext context;
    private final CudaModule module;

    public SelectiveScanKernels(CudaContext context) {
        this.context = context;
        this.module = context.module("selective_scan.cu", options());
    }

    /** NVRTC options of this module (the CI compile test uses the same). */
    public static List<String> options() {
        return List.of("--extra-device-vectorization");
    }

    /** States per lane: 4 for N + n' up to 16, 8 up to 32, 16 up to 64. */
    public static int statesPerLane(int totalStates) {
        if (totalStates <= 16) {
            return 4;
        }
        if (totalStates <= 32) {
            return 8;
        }
        if (totalStates <= MAX_STATES) {
            return 16;
        }
        throw new IllegalArgumentException("the cuda scan holds at most " + MAX_STATES + " states, asked for "
                + totalStates);
    }

    /** Time steps per tile (and between checkpoints): 128 / K. */
    public static int tile(int statesPerLane) {
        return 128 / statesPerLane;
    }

    public static long checkpointFloats(ScanShape s) {
        int tt = tile(statesPerLane(s.totalStates()));
        long chunks = (s.len() + tt - 1) / tt;
        return (long) s.batch() * chunks * s.channels() * s.totalStates();
    }

    public static long workFloats(ScanShape s) {
        int k = statesPerLane(s.totalStates());
        long nt = (long) LANES * k;
        long blocks = blocks(s.channels());
        return blocks * s.batch() * s.len() * 2 * nt + 2L * s.batch() * s.channels() * nt + 2L * s.batch() * s.channels();
    }

    private static int blocks(int channels) {
        return (channels + CHANNELS_PER_BLOCK - 1) / CHANNELS_PER_BLOCK;
    }

    private Kernel kernel(String op, Precision p, ScanShape s) {
        return module.kernel("scan_" + op + "_" + p.tag + "_k" + statesPerLane(s.totalStates()));
    }

    /**
     * Forward: y (B, L, D) from the operands; state (B, D, N) and extState (B, D, n') hold h0 on entry and the last
     * state on return (0: start from zeros and keep nothing); checkpoints (see {@link #checkpointFloats}) or 0.
     */
    public void forward(Precision p, ScanShape s, ScanOperands o, long state, long extState, long checkpoints,
                        long y) {
        kernel("fwd", p, s).launch(blocks(s.channels()), s.batch(), 1, THREADS, 0,
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                state, o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), extState, checkpoints, y,
                s.len(), s.channels(), s.states(), s.extStates());
    }

    /** Gradient outputs of {@link #backward}; 0 for any not wanted (dx and dDt are always written). */
    public record Gradients(long dx, long dDt, long dz, long dBc, long dExt, long dNegA, long dExtNegA, long dSkip,
                            long dHOffset, long dYOffset, long dH0, long dExtH0) {
    }

    /**
     * Backward from dy (B, L, D): dx, dΔ, dz (into z's layout), dB/dC (into bc's layout) and dB'/dC' are assigned;
     * dA (w.r.t. negA), dA', dD, dh', dy' are added to (+=, summed over the batch); dh0 (B, D, N) and the extension's
     * (B, D, n') are assigned per batch row. {@code work} holds {@link #workFloats} floats.
     */
    public void backward(Precision p, ScanShape s, ScanOperands o, long checkpoints, long dy, Gradients g, long work) {
        int blocks = blocks(s.channels());
        int k = statesPerLane(s.totalStates());
        int tt = tile(k);
        int nt = LANES * k;
        int sharedFloats = 7 * tt * CHANNELS_PER_BLOCK + 2 * tt * nt + tt * k * THREADS + 4 * tt * 2 * nt;
        kernel("bwd", p, s).launch(blocks, s.batch(), 1, THREADS, sharedFloats * 4,
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), checkpoints, dy, g.dx(), g.dDt(), g.dz(),
                g.dH0(), g.dExtH0(), work, s.batch(), s.len(), s.channels(), s.states(), s.extStates());
        long outputs = (long) s.batch() * s.len() * 2 * s.totalStates() + (long) s.channels() * s.totalStates()
                + s.channels();
        int finishThreads = 256;
        kernel("bwd_finish", p, s).launch((int) ((outputs + finishThreads - 1) / finishThreads), 1, 1,
                finishThreads, 0, work, g.dBc(), o.ldbc(), o.bOffset(), g.dExt(), o.ldExt(), g.dNegA(),
                g.dExtNegA(), g.dHOffset(), g.dSkip(), g.dYOffset(), blocks, s.batch(), s.len(), s.channels(),
                s.states(), s.extStates());
    }

    /**
     * One decoding step for every batch row: x, dt (B, D), bc (B, ldbc), z (B, ldz), ext (B, ldExt) as in the
     * operands (their length is 1); state and extState updated in place; y (B, D).
     */
    public void step(Precision p, ScanShape s, ScanOperands o, long state, long extState, long y) {
        kernel("step", p, s).launch(blocks(s.channels()), s.batch(), 1, THREADS, 0,
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                state, o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), extState, y, s.channels(),
                s.states(), s.extStates());
    }

    public CudaContext context() {
        return context;
    }
}
