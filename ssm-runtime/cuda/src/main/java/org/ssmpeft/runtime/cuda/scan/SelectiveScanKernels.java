package org.ssmpeft.runtime.cuda.scan;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * <p>Each pass runs in a {@link ScanLayout} (lanes per channel, states per lane, channels per block, tile); by default
 * {@link ScanLayout#forward} and {@link ScanLayout#backward} for the shape's N + n', or any compiled layouts given
 * to the constructor (the benchmark and the tests try them all). Sizes, for {@link ScanShape} s: the training
 * forward writes {@link #checkpointFloats} floats of checkpoints (B, ceil(L/TT), D, N + n'), which the backward
 * reads; the backward needs a float workspace of {@link #workFloats} floats.
 */
public final class SelectiveScanKernels {

    /** dt_rank entries of W_dt a lane of {@link #stepDelta} holds (STEP_DT_RANK_PER_LANE in the kernel file). */
    public static final int STEP_DT_RANK_PER_LANE = 24;

    /** The largest N + n' a layout is compiled for. */
    public static final int MAX_STATES = 64;

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
    private final ScanLayout forwardLayout, backwardLayout;
    private final Map<EntryKey, Kernel> entries = new ConcurrentHashMap<>();

    /** The default layouts for each shape. */
    public SelectiveScanKernels(CudaContext context) {
        this(context, null, null);
    }

    /**
     * Fixed layouts (null: the default for each shape); they must be {@link ScanLayout#COMPILED} and hold the
     * shapes they are used for, and share the tile.
     */
    public SelectiveScanKernels(CudaContext context, ScanLayout forward, ScanLayout backward) {
        for (ScanLayout l : new ScanLayout[] {forward, backward}) {
            if (l != null && !ScanLayout.COMPILED.contains(l)) {
                throw new IllegalArgumentException("scan layout " + l + " is not compiled; compiled: "
                        + ScanLayout.COMPILED);
            }
        }
        if (backward != null && backward.forwardOnly()) {
            throw new IllegalArgumentException("scan layout " + backward + " has only a forward kernel; its backward"
                    + " runs in " + backward.single());
        }
        this.context = context;
        this.module = context.module("selective_scan.cu", options());
        this.forwardLayout = forward;
        this.backwardLayout = backward;
    }

    /**
     * NVRTC options of this module (the CI compile test uses the same), plus, for benchmark experiments only, the
     * {@code -D} switches listed in the system property {@code ssmpeft.scan.defines} (comma-separated, e.g.
     * {@code SCAN_GROUP_STATES=16,SCAN_BENCH_ONE_LAYOUT}; see the kernel file's tuning switches).
     */
    public static List<String> options() {
        List<String> o = new java.util.ArrayList<>(List.of("--extra-device-vectorization"));
        String defines = System.getProperty("ssmpeft.scan.defines", "").strip();
        if (!defines.isEmpty()) {
            for (String d : defines.split(",")) {
                o.add("-D" + d.strip());
            }
        }
        return List.copyOf(o);
    }

    public static long checkpointFloats(ScanShape s) {
        int tt = ScanLayout.tileFor(s.totalStates());
        long chunks = (s.len() + tt - 1) / tt;
        return (long) s.batch() * chunks * s.channels() * s.totalStates();
    }

    /** The backward's workspace for this shape in this launcher's backward layout. */
    public long workFloats(ScanShape s) {
        ScanLayout l = backwardLayout(s);
        long nt = l.states();
        long blocks = l.blocks(s.channels());
        return blocks * s.batch() * s.len() * 2 * nt + 2L * s.batch() * s.channels() * nt + 2L * s.batch() * s.channels();
    }

    public ScanLayout forwardLayout(ScanShape s) {
        return checked(forwardLayout != null ? forwardLayout : ScanLayout.forward(s.totalStates()), s);
    }

    public ScanLayout backwardLayout(ScanShape s) {
        return checked(backwardLayout != null ? backwardLayout : ScanLayout.backward(s.totalStates()), s);
    }

    private static ScanLayout checked(ScanLayout l, ScanShape s) {
        if (l.states() < s.totalStates() || l.tile() != ScanLayout.tileFor(s.totalStates())) {
            throw new IllegalArgumentException("scan layout " + l + " does not fit " + s.totalStates()
                    + " states (it holds " + l.states() + "; the tile for them is "
                    + ScanLayout.tileFor(s.totalStates()) + ")");
        }
        return l;
    }

    // the entry point of a pass, precision and layout (null: one for every layout), looked up once: the host's work
    // before a launch reaches the stream is on the measured path (events around a call count it)
    private record EntryKey(String op, Precision p, ScanLayout l) {
    }

    private Kernel kernel(String op, Precision p, ScanLayout l) {
        return entries.computeIfAbsent(new EntryKey(op, p, l),
                e -> module.kernel("scan_" + e.op + "_" + e.p.tag + (e.l == null ? "" : "_" + e.l.tag())));
    }

    /**
     * Forward: y (B, L, D) from the operands; state (B, D, N) and extState (B, D, n') hold h0 on entry and the last
     * state on return (0: start from zeros and keep nothing); checkpoints (see {@link #checkpointFloats}) or 0.
     */
    public void forward(Precision p, ScanShape s, ScanOperands o, long state, long extState, long checkpoints,
                        long y) {
        ScanLayout l = forwardLayout(s);
        kernel("fwd", p, l).launch(l.blocks(s.channels()), s.batch(), 1, l.threads(), l.forwardSharedBytes(),
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                state, o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), extState, checkpoints, y,
                s.len(), s.channels(), s.states(), s.extStates(), o.hookRows() ? 1 : 0);
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
        if (o.hookRows()) {
            throw new IllegalArgumentException("the scan backward takes hooks shared by the batch rows (training runs"
                    + " one adapter stack), not per-row hooks");
        }
        ScanLayout l = backwardLayout(s);
        int blocks = l.blocks(s.channels());
        kernel("bwd", p, l).launch(blocks, s.batch(), 1, l.threads(), l.backwardSharedBytes(),
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), checkpoints, dy, g.dx(), g.dDt(), g.dz(),
                g.dH0(), g.dExtH0(), work, s.batch(), s.len(), s.channels(), s.states(), s.extStates());
        long outputs = (long) s.batch() * s.len() * 2 * s.totalStates() + (long) s.channels() * s.totalStates()
                + s.channels();
        int finishThreads = 256;
        kernel("bwd_finish", p, null).launch((int) ((outputs + finishThreads - 1) / finishThreads), 1, 1,
                finishThreads, 0, work, g.dBc(), o.ldbc(), o.bOffset(), g.dExt(), o.ldExt(), g.dNegA(),
                g.dExtNegA(), g.dHOffset(), g.dSkip(), g.dYOffset(), blocks, l.states(), s.batch(), s.len(),
                s.channels(), s.states(), s.extStates());
    }

    /**
     * One decoding step for every batch row: x, dt (B, D), bc (B, ldbc), z (B, ldz), ext (B, ldExt) as in the
     * operands (their length is 1); state and extState updated in place; y (B, D). Runs in the forward's layout, so
     * a step equals the forward's step bit for bit.
     */
    public void step(Precision p, ScanShape s, ScanOperands o, long state, long extState, long y) {
        ScanLayout l = forwardLayout(s).single();
        kernel("step", p, l).launch(l.blocks(s.channels()), s.batch(), 1, l.threads(), 0,
                o.x(), o.dt(), o.negA(), o.bc(), o.ldbc(), o.bOffset(), o.dSkip(), o.z(), o.ldz(), o.zOffset(),
                state, o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), extState, y, s.channels(),
                s.states(), s.extStates(), o.hookRows() ? 1 : 0);
    }

    /**
     * The fused decode path's step (float32, at most {@code DecodeKernels.MAX_ROWS} rows): as {@link #step}, with Δ
     * formed in the launch from dt_proj: Δ = softplus(dt_low·W_dtᵀ + b_dt), W_dt (D, R), b_dt (D) or 0, dt_low the
     * first R columns of the operands' bc (B, R + 2N, B at offset R: {@code DecodeKernels#convXProj}'s xdbl). The
     * operands' x is silu(conv(x)) (B, D); their dt (B, D) receives Δ.
     */
    public void stepDelta(ScanShape s, ScanOperands o, long dtWeight, long dtBias, int rank, long state,
                          long extState, long y) {
        int xw = rank + 2 * s.states();
        if (o.ldbc() != xw || o.bOffset() != rank) {
            throw new IllegalArgumentException("stepDelta: [dt_low | B | C] rows of " + o.ldbc() + " floats with B at "
                    + o.bOffset() + " (expected " + xw + " and " + rank + ")");
        }
        if (dtWeight == 0) {
            throw new IllegalArgumentException("stepDelta: W_dt is required");
        }
        ScanLayout l = forwardLayout(s).single();
        if (rank > maxStepDeltaRank(l)) {
            throw new IllegalArgumentException("stepDelta: dt_rank " + rank + " above the " + maxStepDeltaRank(l)
                    + " of layout " + l);
        }
        kernel("step_dt", Precision.FLOAT32, l).launch(l.blocks(s.channels()), s.batch(), 1, l.threads(), 0,
                o.x(), o.dt(), o.negA(), o.bc(), rank, dtWeight, dtBias, o.dSkip(), o.z(), o.ldz(), o.zOffset(), state,
                o.hOffset(), o.yOffset(), o.ext(), o.ldExt(), o.extNegA(), extState, y, s.channels(), s.states(),
                s.extStates(), o.hookRows() ? 1 : 0);
    }

    /** The largest dt_rank {@link #stepDelta} takes in step layout l: its lanes hold W_dt's row between them. */
    public static int maxStepDeltaRank(ScanLayout l) {
        return STEP_DT_RANK_PER_LANE * l.lanes();
    }

    public CudaContext context() {
        return context;
    }
}
