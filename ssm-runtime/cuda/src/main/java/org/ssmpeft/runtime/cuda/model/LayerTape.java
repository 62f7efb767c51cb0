package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.cuda.scan.ScanShape;

/**
 * The activations of one Mamba-1 block on the device (the cpu's {@code CpuMamba.LayerBuffers}), in the call's
 * arena. M = B·L rows of the residual stream, Mx = B·(n + L) rows inside the mixer when a prefix of n virtual tokens
 * is prepended to x (else Mx = M and the extended buffers are the plain ones). Outside training one tape serves
 * every layer of the same rows and extension width (every buffer is overwritten); in training each layer keeps its
 * own, with what the backward reads.
 */
final class LayerTape {

    final Rows rows;
    final int extWidth;     // n' of the layer's state extension (0: none)
    final boolean training;
    final long normed;      // (M, d) RMSNorm of the block's input
    final long hiddenIn;    // (M, d) the block's input, training only
    final long xz;          // (M, 2D) [x | z] per row
    final long xzExt;       // (Mx, 2D) [P; x | 0; z]
    final long convPre;     // (Mx, D) pre-activation of the conv, training only
    final long xc;          // (Mx, D) silu(conv(x))
    final long xdbl;        // (Mx, R + 2N) [dt_low | B | C]
    final long dt;          // (Mx, D) after softplus
    final long y;           // (Mx, D)
    final long yReal;       // (M, D) y at the real positions
    final long out;         // (M, d)
    final long extBc;       // (Mx, 2n') [B' | C'] of the state extension, or 0
    final long checkpoints; // the scan's (B, ceil(Lx/TT), D, N + n'), training only
    final ScanShape scan;   // (B, Lx, D, N, n')

    LayerTape(DeviceMemory.Arena call, ScanOps ops, MambaConfig c, Rows rows, int extWidth, boolean training) {
        this.rows = rows;
        this.extWidth = extWidth;
        this.training = training;
        int dm = c.dModel();
        int di = c.dInner();
        long m = rows.m();
        long mx = rows.mx();
        normed = floats(call, m * dm);
        hiddenIn = training ? floats(call, m * dm) : 0;
        xz = floats(call, m * 2 * di);
        xzExt = rows.prefix() == 0 ? xz : floats(call, mx * 2 * di);
        convPre = training ? floats(call, mx * di) : 0;
        xc = floats(call, mx * di);
        xdbl = floats(call, mx * (c.dtRank() + 2L * c.dState()));
        dt = floats(call, mx * di);
        y = floats(call, mx * di);
        yReal = rows.prefix() == 0 ? y : floats(call, m * di);
        out = floats(call, m * dm);
        extBc = extWidth == 0 ? 0 : floats(call, mx * 2 * extWidth);
        scan = new ScanShape(rows.batch(), rows.lx(), di, c.dState(), extWidth);
        checkpoints = training ? floats(call, ops.checkpointFloats(scan)) : 0;
    }

    private static long floats(DeviceMemory.Arena call, long n) {
        return call.floats(n);
    }

    /** Whether this (inference) tape can serve a layer of these rows and extension width. */
    boolean fits(Rows r, int ext) {
        return !training && rows.equals(r) && extWidth == ext;
    }
}
