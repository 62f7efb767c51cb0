package org.ssmpeft.runtime.djl;

import org.ssmpeft.runtime.checkpoint.MambaConfig;

/**
 * The recurrent state of the DJL Mamba-1 model for a batch, in transformers' {@code MambaCache} layout: per layer the
 * conv state (B, D, K), the last K pre-conv inputs x oldest first, and the SSM state (B, D, N). Plain Java arrays, so
 * no native memory outlives a call. A mutable buffer: {@link DjlMamba#forward} and {@link DjlMamba#step} advance it.
 *
 * <p>Hooks that act before the first token (initial state, prompt and prefix tokens) are applied by the call that
 * finds the cache at {@link #position()} 0.
 */
public final class DjlCache {

    private final int batch;
    private final float[][] conv;
    private final float[][] ssm;
    private long position;

    private DjlCache(int batch, int layers, long convSize, long ssmSize) {
        this.batch = batch;
        this.conv = new float[layers][Math.toIntExact(convSize)];
        this.ssm = new float[layers][Math.toIntExact(ssmSize)];
    }

    /** An all-zero cache for {@code batch} sequences: the state before the first token. */
    public static DjlCache zeros(MambaConfig c, int batch) {
        if (batch <= 0) {
            throw new IllegalArgumentException("cache batch must be > 0, found " + batch);
        }
        return new DjlCache(batch, c.layers(), (long) batch * c.dInner() * c.convKernel(),
                (long) batch * c.dInner() * c.dState());
    }

    public int batch() {
        return batch;
    }

    public int layers() {
        return conv.length;
    }

    /**
     * Positions of the residual stream consumed so far per sequence: tokens, and prompt tokens at the embedding;
     * not the per-layer prefix tokens, which live only inside their layers.
     */
    public long position() {
        return position;
    }

    void advance(int positions) {
        position += positions;
    }

    /** The conv state of one layer: (B, D, K), oldest input first. */
    public float[] convState(int layer) {
        return conv[layer];
    }

    /** The SSM state of one layer: (B, D, N). */
    public float[] ssmState(int layer) {
        return ssm[layer];
    }

    void set(int layer, float[] convState, float[] ssmState) {
        System.arraycopy(convState, 0, conv[layer], 0, conv[layer].length);
        System.arraycopy(ssmState, 0, ssm[layer], 0, ssm[layer].length);
    }

    /** An independent copy (e.g. to branch a beam). */
    public DjlCache copy() {
        var c = new DjlCache(batch, conv.length, conv[0].length, ssm[0].length);
        for (int i = 0; i < conv.length; i++) {
            c.set(i, conv[i], ssm[i]);
        }
        c.position = position;
        return c;
    }
}
