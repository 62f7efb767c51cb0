package org.ssmpeft.runtime.cpu;

import java.util.concurrent.ForkJoinPool;

/**
 * The cpu backend's chunked SSD scan (Mamba-2), opened to the cuda module's tests (same package on the class path):
 * the reference the GPU's SSD kernels are compared with. Formulas and layouts as {@link Ssd}: xbc (B·L, ldx) is the
 * packed [x (D) | B (G·N) | C (G·N)] row from column 0; there is no z gate.
 */
public final class CpuSsdReference {

    private static final Parallel PAR = new Parallel(ForkJoinPool.commonPool());

    private CpuSsdReference() {
    }

    /**
     * y (B·L, D) from xbc, dt (B·L, H), a (H), dSkip (H, zeros for none); state (B, H, P, N) holds h0 on entry and
     * the last state on return; hOffset (H, P, N) and yOffset (D) may be null; checkpoints (B, chunks, H, P, N)
     * receives the chunk input states, or null.
     */
    public static void forward(float[] y, float[] xbc, int ldx, float[] dt, float[] a, float[] dSkip, float[] state,
                               float[] hOffset, float[] yOffset, float[] checkpoints, int batch, int len, int heads,
                               int headDim, int groups, int n, int chunk) {
        Ssd.forward(PAR, y, xbc, ldx, dt, a, dSkip, state, hOffset, yOffset, checkpoints,
                new Ssd.Dims(batch, len, heads, headDim, groups, n, chunk));
    }

    /**
     * Gradients as {@link Ssd.Grads}, every one added to (+=; pass zeros for an assigned result) except dh0 (B, H,
     * P, N), which is assigned; dxbc (B·L, lddxbc) in xbc's packed columns. dSkip, dhOffset, dyOffset, dh0 may be
     * null (not computed; dhOffset only with an hOffset). skip (H) holds D's values (zeros for none), hOffset h'
     * (or null), checkpoints the forward's.
     */
    public static void backward(float[] dxbc, int lddxbc, float[] ddt, float[] dA, float[] dSkip, float[] dhOffset,
                                float[] dyOffset, float[] dh0, float[] dy, float[] xbc, int ldx, float[] dt,
                                float[] a, float[] skip, float[] hOffset, float[] checkpoints, int batch, int len,
                                int heads, int headDim, int groups, int n, int chunk) {
        var g = new Ssd.Grads(dxbc, lddxbc, ddt, dA, dSkip, dhOffset, dyOffset, dh0);
        Ssd.backward(PAR, g, dy, xbc, ldx, dt, a, skip, hOffset, checkpoints,
                new Ssd.Dims(batch, len, heads, headDim, groups, n, chunk));
    }
}
