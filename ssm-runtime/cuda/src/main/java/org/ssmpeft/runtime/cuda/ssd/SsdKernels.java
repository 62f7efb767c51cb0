package org.ssmpeft.runtime.cuda.ssd;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaModule;
import org.ssmpeft.runtime.cuda.driver.Kernel;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * Launches Mamba-2's chunked SSD scan of {@code kernels/ssd.cu} (the formulas and the work split are at the top of
 * that file): forward with the state hooks (h0, h', y'), D skip and an optional z gate, in five launches (chunk
 * decays, C·B, chunk states, state passing, chunk output); backward with recomputation from the chunk input states
 * the forward wrote, in ten. Work is queued on the context's stream; nothing is synchronised.
 *
 * <p>Sizes, for {@link SsdShape} s: the forward always writes the chunk input states, (B, chunks, H, P, N) floats
 * ({@link SsdShape#checkpointFloats}; the backward reads them), and needs {@link #forwardWorkFloats} floats of
 * workspace; the backward needs {@link #backwardWorkFloats}. Gradients are deterministic: sums across blocks go
 * through partials reduced in a fixed order, never floating-point atomics.
 */
public final class SsdKernels {

    /** The output and reduction tile of every product (TILE in the kernel file). */
    public static final int TILE = 64;

    /** Every entry point of {@code ssd.cu} (the CI compile test checks that each one compiles). */
    public static final List<String> ENTRY_POINTS;

    static {
        List<String> names = new java.util.ArrayList<>(List.of("ssd_state_pass", "ssd_state_pass_bwd",
                "ssd_finish"));
        for (String op : List.of("cumsum", "cb", "chunk_state", "chunk_scan", "dstate", "du", "dcb", "dbc", "dt",
                "step")) {
            for (Precision p : Precision.values()) {
                names.add(entry(op, p));
            }
        }
        ENTRY_POINTS = List.copyOf(names);
    }

    private final CudaContext context;
    private final CudaModule module;
    private final Map<String, Kernel> entries = new ConcurrentHashMap<>();

    public SsdKernels(CudaContext context) {
        this.context = context;
        this.module = context.module("ssd.cu", options());
    }

    /**
     * NVRTC options of {@code ssd.cu} (the CI compile test uses the same), plus, for benchmark experiments only, the
     * {@code -D} switches listed in the system property {@code ssmpeft.ssd.defines} (comma-separated, e.g.
     * {@code SSD_PREFETCH=0}; see the kernel file's switches).
     */
    public static List<String> options() {
        List<String> o = new java.util.ArrayList<>(List.of("--extra-device-vectorization"));
        String defines = System.getProperty("ssmpeft.ssd.defines", "").strip();
        if (!defines.isEmpty()) {
            for (String d : defines.split(",")) {
                o.add("-D" + d.strip());
            }
        }
        return List.copyOf(o);
    }

    private static String entry(String op, Precision p) {
        return "ssd_" + op + "_" + (p == Precision.FLOAT32 ? "f32" : "bf16");
    }

    private Kernel kernel(String name) {
        return entries.computeIfAbsent(name, module::kernel);
    }

    private static int tiles(int n) {
        return (n + TILE - 1) / TILE;
    }

    // the workspace's parts, in floats, in order: each starts 64-float aligned (256 bytes)
    private static long align(long floats) {
        return (floats + 63) & ~63L;
    }

    private static long cumFloats(SsdShape s) {
        return align((long) s.batch() * s.heads() * s.len());
    }

    private static long cbFloats(SsdShape s) {
        return align((long) s.batch() * s.chunks() * s.groups() * s.chunk() * s.chunk());
    }

    /** The forward's workspace: the chunk decays (B, H, L) and C·B (B, chunks, G, Q, Q). */
    public static long forwardWorkFloats(SsdShape s) {
        return cumFloats(s) + cbFloats(s);
    }

    /** Floats of one per-row partial sum, (parts, B·L·H). */
    private static long rowPart(SsdShape s, int parts) {
        return align((long) parts * s.batch() * s.len() * s.heads());
    }

    private static int statePassBlocks(SsdShape s) {
        return (s.headDim() * s.states() + 255) / 256;
    }

    /**
     * The backward's workspace: the forward's, dL/d(C·B), dy through the gate (B·L, D), dL/dh_out per chunk and the
     * per-chunk partials of dh' ((B, chunks, H, P, N) each; the latter used only when dh' is wanted), and the
     * per-row partial sums.
     */
    public static long backwardWorkFloats(SsdShape s) {
        return new Layout(s).end;
    }

    // where each part of the backward's workspace starts (floats from its start)
    private static final class Layout {
        final long cum, cb, dcb, dy, dh, dhPart, offDot, xDot, duX, dv, dlRow, dlCol, dot, dAPart, dDPart, end;

        Layout(SsdShape s) {
            int pt = tiles(s.headDim());
            int qt = tiles(s.chunk());
            long at = 0;
            cum = at;
            at += cumFloats(s);
            cb = at;
            at += cbFloats(s);
            dcb = at;
            at += cbFloats(s);
            dy = at;
            at += align((long) s.batch() * s.len() * s.dInner());
            dh = at;
            at += align(s.checkpointFloats());
            dhPart = at;
            at += align(s.checkpointFloats());
            offDot = at;
            at += rowPart(s, pt);
            xDot = at;
            at += rowPart(s, pt);
            duX = at;
            at += rowPart(s, pt);
            dv = at;
            at += rowPart(s, pt);
            dlRow = at;
            at += rowPart(s, qt);
            dlCol = at;
            at += rowPart(s, qt);
            long perChunk = (long) s.batch() * s.heads() * s.chunks();
            dot = at;
            at += align(perChunk * statePassBlocks(s));
            dAPart = at;
            at += align(perChunk);
            dDPart = at;
            at += align(perChunk);
            end = at;
        }
    }

    /**
     * Forward: y (B·L, D) from the operands; state (B, H, P, N) holds h0 on entry and the last state on return (0:
     * start from zeros and keep nothing); checkpoints receives the chunk input states (required: the chunk output
     * reads them); work holds {@link #forwardWorkFloats} floats.
     */
    public void forward(Precision p, SsdShape s, SsdOperands o, long state, long checkpoints, long work, long y) {
        if (checkpoints == 0 || work == 0 || y == 0) {
            throw new IllegalArgumentException("ssd forward: checkpoints, work and y are required");
        }
        checkGrid(s);
        long cum = work;
        long cb = work + 4 * cumFloats(s);
        chunkPrologue(p, s, o, cum, cb);
        int bch = s.batch() * s.chunks() * s.heads();
        kernel(entry("chunk_state", p)).launch(tiles(s.states()), tiles(s.headDim()), bch, 256, 0,
                o.xbc(), o.ldx(), o.bOffset(), o.dt(), cum, checkpoints, s.batch(), s.len(), s.heads(), s.headDim(),
                s.groups(), s.states(), s.chunk());
        kernel("ssd_state_pass").launch(statePassBlocks(s), s.batch() * s.heads(), 1, 256, 0,
                cum, state, checkpoints, s.batch(), s.len(), s.heads(), s.headDim() * s.states(), s.chunk());
        chunkScan(p, s, o, cum, cb, checkpoints, y, 0L, 0L, 0L, 0L, 0L);
    }

    // the launch grids put (b, chunk, head) in their z dimension
    private static void checkGrid(SsdShape s) {
        long blocks = (long) s.batch() * s.chunks() * s.heads() * 2;
        if (blocks > 65535) {
            throw new IllegalArgumentException("ssd: B·chunks·H·2 = " + blocks + " above the launch grid's 65535 (a"
                    + " longer chunk than " + s.chunk() + " brings it under)");
        }
    }

    // the chunk decays c = cumsum(Δ·a) per chunk (a warp per (b, h, chunk)), and C·B per chunk and group
    private void chunkPrologue(Precision p, SsdShape s, SsdOperands o, long cum, long cb) {
        int rows = s.batch() * s.heads() * s.chunks();
        kernel(entry("cumsum", p)).launch((rows + 3) / 4, 1, 1, 128, 0, o.dt(), o.a(), cum, s.batch(), s.len(),
                s.heads(), s.chunk());
        int qt = tiles(s.chunk());
        kernel(entry("cb", p)).launch(qt, qt, s.batch() * s.chunks() * s.groups(), 256, 0, o.xbc(), o.ldx(),
                o.bOffset(), o.cOffset(), cb, s.batch(), s.len(), s.groups(), s.states(), s.chunk());
    }

    // the chunk output; with dy != 0 its backward mode: dy through the gate into dyf, dz, and the row partials
    private void chunkScan(Precision p, SsdShape s, SsdOperands o, long cum, long cb, long checkpoints, long y,
                           long dy, long dyf, long dz, long offDot, long xDot) {
        kernel(entry("chunk_scan", p)).launch(tiles(s.headDim()), tiles(s.chunk()),
                s.batch() * s.chunks() * s.heads(), 256, 0, o.xbc(), o.ldx(), o.cOffset(), o.dt(), o.dSkip(), o.z(),
                o.ldz(), o.zOffset(), o.hOffset(), o.yOffset(), cum, cb, checkpoints, y, dy, dyf, dz, offDot, xDot,
                s.batch(), s.len(), s.heads(), s.headDim(), s.groups(), s.states(), s.chunk());
    }

    /**
     * Gradient outputs of {@link #backward}; 0 for any not wanted except dxbc and ddt. dxbc (B·L, lddx) receives dx,
     * dB, dC at xbc's columns (assigned; other columns untouched), ddt (B·L, H) dΔ (assigned), dz dL/dz in z's layout
     * (assigned; required when there is a gate), dh0 (B, H, P, N) dL/dh0 (assigned); dA, dSkip (H), dhOffset (H, P, N)
     * and dyOffset (D) are added to (+=, summed over the batch).
     */
    public record Gradients(long dxbc, int lddx, long ddt, long dz, long dA, long dSkip, long dhOffset, long dyOffset,
                            long dh0) {
    }

    /**
     * Backward from dy (B·L, D) (the precision's element type): the gradients of {@link Gradients}, from the
     * forward's operands and its checkpoints; work holds {@link #backwardWorkFloats} floats.
     */
    public void backward(Precision p, SsdShape s, SsdOperands o, long checkpoints, long dy, Gradients g, long work) {
        if (g.dxbc() == 0 || g.ddt() == 0) {
            throw new IllegalArgumentException("ssd backward: dxbc and ddt are required");
        }
        if (o.z() != 0 && g.dz() == 0) {
            throw new IllegalArgumentException("ssd backward: a gated scan needs dz");
        }
        checkGrid(s);
        Layout w = new Layout(s);
        long cum = work + 4 * w.cum, cb = work + 4 * w.cb, dcb = work + 4 * w.dcb, dyf = work + 4 * w.dy;
        long dh = work + 4 * w.dh, dhPart = g.dhOffset() == 0 ? 0L : work + 4 * w.dhPart;
        long offDot = work + 4 * w.offDot, xDot = work + 4 * w.xDot, duX = work + 4 * w.duX, dv = work + 4 * w.dv;
        long dlRow = work + 4 * w.dlRow, dlCol = work + 4 * w.dlCol, dot = work + 4 * w.dot;
        long dAPart = work + 4 * w.dAPart, dDPart = work + 4 * w.dDPart;
        chunkPrologue(p, s, o, cum, cb);
        chunkScan(p, s, o, cum, cb, checkpoints, 0L, dy, dyf, g.dz(), offDot, xDot);
        int bch = s.batch() * s.chunks() * s.heads();
        int pt = tiles(s.headDim()), qt = tiles(s.chunk()), nt = tiles(s.states());
        kernel(entry("dstate", p)).launch(nt, pt, bch * (dhPart != 0 ? 2 : 1), 256, 0, o.xbc(), o.ldx(),
                o.cOffset(), dyf, cum, dh, dhPart, s.batch(), s.len(), s.heads(), s.headDim(), s.groups(),
                s.states(), s.chunk());
        kernel("ssd_state_pass_bwd").launch(statePassBlocks(s), s.batch() * s.heads(), 1, 256, 0,
                cum, checkpoints, dh, g.dh0(), dot, s.batch(), s.len(), s.heads(), s.headDim() * s.states(),
                s.chunk());
        kernel(entry("du", p)).launch(pt, qt, bch, 256, 0, o.xbc(), o.ldx(), o.bOffset(), o.dt(), o.dSkip(), cum, cb,
                dh, dyf, g.dxbc(), g.lddx(), duX, dv, s.batch(), s.len(), s.heads(), s.headDim(), s.groups(),
                s.states(), s.chunk());
        int bcg = s.batch() * s.chunks() * s.groups();
        kernel(entry("dcb", p)).launch(qt, qt, bcg, 256, 0, o.xbc(), o.ldx(), o.dt(), cum, cb, dyf, dcb, dlRow, dlCol,
                s.batch(), s.len(), s.heads(), s.headDim(), s.groups(), s.chunk());
        kernel(entry("dbc", p)).launch(nt, qt, bcg * 2, 256, 0, o.xbc(), o.ldx(), o.bOffset(), o.cOffset(), o.dt(),
                o.hOffset(), cum, dcb, dyf, checkpoints, dh, g.dxbc(), g.lddx(), s.batch(), s.len(), s.heads(),
                s.headDim(), s.groups(), s.states(), s.chunk());
        kernel(entry("dt", p)).launch(s.chunks(), s.heads(), s.batch(), 256, 0, o.dt(), o.a(), cum, offDot, xDot, duX,
                dv, dlRow, dlCol, dot, statePassBlocks(s), g.ddt(), dAPart, dDPart, s.batch(), s.len(), s.heads(),
                s.headDim(), s.chunk());
        long outputs = (long) s.heads() * 2 + s.dInner() + (dhPart != 0 ? (long) s.heads() * s.headDim()
                * s.states() : 0);
        kernel("ssd_finish").launch((int) ((outputs + 255) / 256), 1, 1, 256, 0, dAPart, dDPart, dyf, dhPart, g.dA(),
                g.dSkip(), g.dyOffset(), g.dhOffset(), s.batch(), s.len(), s.heads(), s.headDim(), s.states(),
                s.chunks());
    }

    /**
     * One decoding step for every batch row (a chunk of one token): xbc (B, ldx), dt (B, H), z (B, ldz) as in the
     * operands with one row per sequence; state (B, H, P, N) advanced in place; y (B, D). The shape's length and chunk
     * are not used.
     */
    public void step(Precision p, SsdShape s, SsdOperands o, long state, long y) {
        if (state == 0 || y == 0) {
            throw new IllegalArgumentException("ssd step: state and y are required");
        }
        kernel(entry("step", p)).launch((s.headDim() + 7) / 8, s.heads(), s.batch(), 256, 0, o.xbc(), o.ldx(),
                o.bOffset(), o.cOffset(), o.dt(), o.a(), o.dSkip(), o.z(), o.ldz(), o.zOffset(), o.hOffset(),
                o.yOffset(), state, y, s.heads(), s.headDim(), s.groups(), s.states());
    }

    public CudaContext context() {
        return context;
    }
}
