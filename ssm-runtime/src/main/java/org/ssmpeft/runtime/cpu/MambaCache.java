package org.ssmpeft.runtime.cpu;

import org.ssmpeft.runtime.checkpoint.MambaConfig;

/**
 * The recurrent state of a Mamba-1 model for a batch, as transformers' {@code MambaCache} holds it: per layer the
 * conv state (B, D, K), the last K pre-conv inputs x oldest first, and the SSM state (B, D, N). A fresh cache is all
 * zeros. It is a mutable buffer: {@link CpuMamba#forward} and {@link CpuMamba#step} advance it in place.
 */
public final class MambaCache {

    private final int batch;
    private final int dInner;
    private final int dState;
    private final int convKernel;
    private final float[][] conv;
    private final float[][] ssm;
    private long position;

    private MambaCache(int batch, int layers, int dInner, int dState, int convKernel) {
        this.batch = batch;
        this.dInner = dInner;
        this.dState = dState;
        this.convKernel = convKernel;
        this.conv = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, dInner), convKernel)];
        this.ssm = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, dInner), dState)];
    }

    /** An all-zero cache for {@code batch} sequences: the state before the first token. */
    public static MambaCache zeros(MambaConfig config, int batch) {
        if (batch <= 0) {
            throw new IllegalArgumentException("cache batch must be > 0, found " + batch);
        }
        return new MambaCache(batch, config.layers(), config.dInner(), config.dState(), config.convKernel());
    }

    public int batch() {
        return batch;
    }

    public int layers() {
        return conv.length;
    }

    /** Tokens consumed so far per sequence. */
    public long position() {
        return position;
    }

    void advance(int tokens) {
        position += tokens;
    }

    /** The live conv state of one layer: (B, D, K). */
    public float[] convState(int layer) {
        return conv[layer];
    }

    /** The live SSM state of one layer: (B, D, N). */
    public float[] ssmState(int layer) {
        return ssm[layer];
    }

    /** An independent copy (e.g. to branch a beam). */
    public MambaCache copy() {
        var c = new MambaCache(batch, conv.length, dInner, dState, convKernel);
        for (int i = 0; i < conv.length; i++) {
            System.arraycopy(conv[i], 0, c.conv[i], 0, conv[i].length);
            System.arraycopy(ssm[i], 0, c.ssm[i], 0, ssm[i].length);
        }
        c.position = position;
        return c;
    }
}
