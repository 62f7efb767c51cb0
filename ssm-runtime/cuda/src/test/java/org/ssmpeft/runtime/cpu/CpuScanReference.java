package org.ssmpeft.runtime.cpu;

import java.util.concurrent.ForkJoinPool;

/**
 * The cpu backend's selective scan, opened to the cuda module's tests (same package on the class path): the
 * reference every GPU kernel is compared with. Layouts as {@link SelectiveScan}.
 */
public final class CpuScanReference {

    private static final Parallel PAR = new Parallel(ForkJoinPool.commonPool());

    private CpuScanReference() {
    }

    public static void forward(float[] y, float[] x, float[] dt, float[] negA, float[] bc, int ldbc, int bOff,
                               float[] dSkip, float[] z, int ldz, int zOff, float[] state, float[] hOffset,
                               float[] yOffset, float[] checkpoints, int chunk, int batch, int len, int d, int n) {
        SelectiveScan.forward(PAR, y, x, dt, negA, bc, ldbc, bOff, dSkip, z, ldz, zOff, state, hOffset, yOffset,
                checkpoints, chunk, batch, len, d, n);
    }

    /** Gradients as SelectiveScan.Grads: dx, ddt, dbc, dz assigned; dA, dSkip, dhOffset, dyOffset, dh0 added to. */
    public static void backward(float[] dx, float[] ddt, float[] dbc, float[] dz, float[] dA, float[] dSkip,
                                float[] dhOffset, float[] dyOffset, float[] dh0, float[] dy, float[] x, float[] dt,
                                float[] negA, float[] bc, int ldbc, int bOff, float[] skip, float[] z, int ldz,
                                int zOff, float[] checkpoints, int chunk, float[] hOffset, float[] yOffset, int batch,
                                int len, int d, int n) {
        var g = new SelectiveScan.Grads(dx, ddt, dbc, dz, dA, dSkip, dhOffset, dyOffset, dh0);
        SelectiveScan.backward(PAR, g, dy, x, dt, negA, bc, ldbc, bOff, skip, z, ldz, zOff, checkpoints, chunk,
                hOffset, yOffset, batch, len, d, n);
    }
}
