package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.cuda.layers.DecodeKernels;
import org.ssmpeft.runtime.cuda.scan.ScanShape;

/**
 * The activations of one Mamba-1 block on the device (the cpu's {@code CpuMamba.LayerBuffers}), in the call's
 * arena. M = B·L rows of the residual stream, Mx = B·(n + L) rows inside the mixer when a prefix of n virtual tokens
 * is prepended to x (else Mx = M and the extended buffers are the plain ones).
 *
 * <p>Outside training one tape serves every layer of the same rows and extension width (every buffer is
 * overwritten). In training each layer keeps only what its backward cannot cheaply recompute, and borrows the rest
 * from one scratch tape of the call ({@link #scratch}), which the backward refills layer by layer:
 * <pre>
 *   kept per layer     hiddenIn (M, d), [P; x | 0; z] (Mx, 2D), [dt_low | B | C] (Mx, R + 2N), [B' | C'] (Mx, 2n'),
 *                      the scan's tile checkpoints, and y (Mx, D) only where out_proj's weight or a delta on it
 *                      needs its input
 *   recomputed         u = RMSNorm(hiddenIn), x = silu(conv(x)), Δ = softplus(dt_proj(dt_low)): one norm, one conv
 *                      and one (Mx, R) x (R, D) product per layer, against 3 (M, d) + 3 (Mx, D) floats kept per row
 * </pre>
 * At Mamba-130M's shape (d 768, D 1536, B 4, L 1024) that keeps 65 MB per layer instead of 214 MB (what mamba_ssm's
 * {@code mamba_inner_fn} with {@code checkpoint_lvl=1} does too: it recomputes the conv output and Δ).
 */
final class LayerTape {

    final Rows rows;
    final int extWidth;     // n' of the layer's state extension (0: none)
    final boolean training;
    final long normed;      // (M, d) RMSNorm of the block's input; in training scratch, recomputed when needed
    final long hiddenIn;    // (M, d) the block's input, training only
    final long xz;          // (M, 2D) [x | z] per row
    final long xzExt;       // (Mx, 2D) [P; x | 0; z]
    final long convPre;     // (Mx, D) pre-activation of the conv, training only (scratch, recomputed)
    final long xc;          // (Mx, D) silu(conv(x)); in training scratch, recomputed
    final long xdbl;        // (Mx, R + 2N) [dt_low | B | C]
    final long dt;          // (Mx, D) after softplus; in training scratch, recomputed
    final long y;           // (Mx, D); in training kept only with keepY
    final long yReal;       // (M, D) y at the real positions
    final long out;         // (M, d); scratch in training
    final long extBc;       // (Mx, 2n') [B' | C'] of the state extension, or 0
    final long checkpoints; // the scan's (B, ceil(Lx/TT), D, N + n'), training only
    final long xProjPart;   // (partBlocks(D), M, R + 2N) a fused decode step's x_proj partials (DecodeKernels), or 0
    final long xProjCounter; // their one-uint32 counter of finished blocks, 0 between launches, or 0 (none)
    final ScanShape scan;   // (B, Lx, D, N, n')

    /** What a tape is for, which decides the buffers it owns and those it borrows. */
    private enum Kind {
        /** the forward outside training: every buffer its own */
        INFERENCE,
        /** the buffers the training tapes of one row shape borrow: recomputed ones and the forward's temporaries */
        SCRATCH,
        /** a training layer's: what its backward reads that cannot be recomputed, the rest from a scratch */
        TRAINING
    }

    private LayerTape(DeviceMemory.Arena call, DeviceMemory memory, ScanOps ops, MambaConfig c, Rows rows,
                      int extWidth, Kind kind, boolean keepY, LayerTape scratch) {
        this.rows = rows;
        this.extWidth = extWidth;
        this.training = kind == Kind.TRAINING;
        int dm = c.dModel();
        int di = c.dInner();
        long m = rows.m();
        long mx = rows.mx();
        boolean borrow = kind == Kind.TRAINING;
        boolean isScratch = kind == Kind.SCRATCH;
        boolean prefixed = rows.prefix() > 0;
        normed = borrow ? scratch.normed : floats(call, m * dm);
        hiddenIn = training ? floats(call, m * dm) : 0;
        // [x | z] is a temporary only where a prefix makes [P; x | 0; z] the buffer kept; without one they are the same
        xz = borrow && prefixed ? scratch.xz : isScratch && !prefixed ? 0 : floats(call, m * 2 * di);
        xzExt = !prefixed ? xz : isScratch ? 0 : floats(call, mx * 2 * di);
        convPre = borrow ? scratch.convPre : isScratch ? floats(call, mx * di) : 0;
        xc = borrow ? scratch.xc : floats(call, mx * di);
        xdbl = isScratch ? 0 : floats(call, mx * (c.dtRank() + 2L * c.dState()));
        dt = borrow ? scratch.dt : floats(call, mx * di);
        y = borrow && !keepY ? scratch.y : floats(call, mx * di);
        yReal = !prefixed ? y : borrow && !keepY ? scratch.yReal : floats(call, m * di);
        out = borrow ? scratch.out : floats(call, m * dm);
        extBc = extWidth == 0 ? 0 : floats(call, mx * 2 * extWidth);
        scan = new ScanShape(rows.batch(), rows.lx(), di, c.dState(), extWidth);
        checkpoints = training ? floats(call, ops.checkpointFloats(scan)) : 0;
        int xw = c.dtRank() + 2 * c.dState();
        boolean fewRows = kind == Kind.INFERENCE && rows.lx() == 1 && rows.prefix() == 0
                && rows.m() <= MambaBlock.FUSED_STEP_ROWS && DecodeKernels.serves(rows.m(), dm, di, xw);
        xProjPart = fewRows ? floats(call, (long) DecodeKernels.partBlocks(di) * m * xw) : 0;
        xProjCounter = fewRows ? floats(call, 1) : 0;
        if (fewRows) {
            memory.zero(xProjCounter, 1);
        }
    }

    /** A tape for the forward outside training: every buffer its own, reused by the layers it {@link #fits}. */
    static LayerTape inference(DeviceMemory.Arena call, DeviceMemory memory, ScanOps ops, MambaConfig c, Rows rows,
                               int extWidth) {
        return new LayerTape(call, memory, ops, c, rows, extWidth, Kind.INFERENCE, false, null);
    }

    /**
     * The buffers the training tapes of these rows share: what a layer's backward recomputes, and the temporaries of
     * its forward (the conv pre-activation included).
     */
    static LayerTape scratch(DeviceMemory.Arena call, ScanOps ops, MambaConfig c, Rows rows) {
        return new LayerTape(call, null, ops, c, rows, 0, Kind.SCRATCH, false, null);
    }

    /**
     * A training layer's tape over {@code scratch} (of the same rows), keeping y when {@code keepY} (out_proj's weight
     * gradient or a delta on out_proj reads it).
     */
    static LayerTape training(DeviceMemory.Arena call, ScanOps ops, MambaConfig c, Rows rows, int extWidth,
                              boolean keepY, LayerTape scratch) {
        if (!scratch.rows.equals(rows)) {
            throw new IllegalArgumentException("scratch of rows " + scratch.rows + " for a layer of rows " + rows);
        }
        return new LayerTape(call, null, ops, c, rows, extWidth, Kind.TRAINING, keepY, scratch);
    }

    private static long floats(DeviceMemory.Arena call, long n) {
        return call.floats(n);
    }

    /** Whether this (inference) tape can serve a layer of these rows and extension width. */
    boolean fits(Rows r, int ext) {
        return !training && rows.equals(r) && extWidth == ext;
    }
}
