package org.ssmpeft.runtime.backend;

import org.ssmpeft.runtime.checkpoint.MambaConfig;

/**
 * The recurrent state of a Mamba-1 model for a batch, one type for every backend, in transformers' {@code MambaCache}
 * layout as plain Java arrays: per layer the conv state (B, D, K), the last K pre-conv inputs x oldest first, and the
 * SSM state (B, D, N). A fresh cache is all zeros. It is a mutable buffer: {@link MambaModel#forward} and
 * {@link MambaModel#step} write its states in place and {@link #advance} it; no backend keeps anything of it between
 * calls, so a cache filled by one backend continues on another.
 *
 * <p><b>Position.</b> {@link #position()} counts the positions of the residual stream consumed per sequence: the
 * tokens given, plus the virtual tokens of a prompt at the embedding (prompt tuning), which a call on a fresh cache
 * prepends. It equals the sum of {@link Logits#length()} over the calls that advanced the cache. Per-layer prefix
 * tokens (prefix tuning) are not counted: they live inside their layers and have no logits row. Position 0 means
 * fresh: hooks that act before the first token (prompt, prefix, initial state) apply only then.
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

    /** D, channels per layer. */
    public int dInner() {
        return dInner;
    }

    /** N, state size per channel. */
    public int dState() {
        return dState;
    }

    /** K, inputs kept per channel for the causal conv. */
    public int convKernel() {
        return convKernel;
    }

    /**
     * Residual-stream positions consumed so far per sequence: tokens plus an acting prompt's virtual tokens, not
     * per-layer prefix tokens (see the class comment). 0 for a fresh cache.
     */
    public long position() {
        return position;
    }

    /** Whether no position has been consumed yet, so the start-of-sequence hooks act on the next call. */
    public boolean isFresh() {
        return position == 0;
    }

    /**
     * Records that a call consumed {@code positions} residual-stream positions per sequence (for backends, after
     * they wrote the new states).
     */
    public void advance(int positions) {
        if (positions <= 0) {
            throw new IllegalArgumentException("a call consumes at least one position, found " + positions);
        }
        position += positions;
    }

    /** The live conv state of one layer: (B, D, K), oldest input first. */
    public float[] convState(int layer) {
        return conv[layer];
    }

    /** The live SSM state of one layer: (B, D, N). */
    public float[] ssmState(int layer) {
        return ssm[layer];
    }

    /**
     * Fails unless this cache was made for {@code config} with {@code batch} rows; the message names what differs.
     */
    public void requireFits(MambaConfig config, int batch) {
        if (batch != this.batch) {
            throw new IllegalArgumentException("expected " + this.batch + " token rows (the cache's batch), found "
                    + batch);
        }
        if (config.layers() != layers() || config.dInner() != dInner || config.dState() != dState
                || config.convKernel() != convKernel) {
            throw new IllegalArgumentException("the cache is sized for (layers, D, N, K) = (" + layers() + ", "
                    + dInner + ", " + dState + ", " + convKernel + ") but the model has (" + config.layers() + ", "
                    + config.dInner() + ", " + config.dState() + ", " + config.convKernel() + "); make it with the"
                    + " model's newCache");
        }
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
