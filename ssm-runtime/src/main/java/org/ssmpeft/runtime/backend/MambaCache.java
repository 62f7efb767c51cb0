package org.ssmpeft.runtime.backend;

import java.util.Arrays;
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
 *
 * <p><b>Extra state.</b> A state extension (additional-scan, {@link org.ssmpeft.api.hooks.StateExtensionHook}) adds
 * n'_l state dimensions per channel in layer l, and decoding must carry them like the base state. They live next to
 * it, not inside it, so the base state keeps transformers' (B, D, N) layout for every other caller: per layer an
 * extra state (B, D, n'_l), the concatenation of the acting extensions' states in stack order, empty (width 0) when
 * none acts there. A cache is made without any; a backend calls {@link #requireExtraState} at the start of every
 * call with the widths of the extensions acting now (all 0 when none): on a fresh cache that allocates zero extra
 * states of those widths, on a used one it requires the widths it was started with, so a sequence never continues
 * under other acting extensions than the ones that wrote its state. Without state extensions nothing changes: every
 * width stays 0 and the check passes.
 */
public final class MambaCache {

    private final int batch;
    private final int dInner;
    private final int dState;
    private final int convKernel;
    private final float[][] conv;
    private final float[][] ssm;
    private int[] extraWidths;
    private float[][] extra;
    private long position;

    private MambaCache(int batch, int layers, int dInner, int dState, int convKernel) {
        this.batch = batch;
        this.dInner = dInner;
        this.dState = dState;
        this.convKernel = convKernel;
        this.conv = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, dInner), convKernel)];
        this.ssm = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, dInner), dState)];
        this.extraWidths = new int[layers];
        this.extra = new float[layers][0];
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

    /** n'_l, the extra state dimensions per channel of {@code layer}'s state extensions; 0 when none acts. */
    public int extraStateWidth(int layer) {
        return extraWidths[layer];
    }

    /** The live extra state of one layer: (B, D, n'_l), empty when no state extension acts there. */
    public float[] extraState(int layer) {
        return extra[layer];
    }

    /**
     * For backends, at the start of a call, with the extra state widths n'_l per layer of the state extensions that
     * act in it (all 0 when none does): a fresh cache gets zero extra states of these widths; a used cache must have
     * been started with the same widths, else this fails naming both (start a fresh cache when the acting state
     * extensions change).
     */
    public void requireExtraState(int[] widths) {
        if (widths.length != extra.length) {
            throw new IllegalArgumentException("extra state widths: expected one per layer (" + extra.length
                    + "), found " + widths.length);
        }
        if (Arrays.equals(widths, extraWidths)) {
            return;
        }
        if (!isFresh()) {
            throw new IllegalArgumentException("this cache was started with extra state widths "
                    + Arrays.toString(extraWidths) + " per layer (from the state extensions acting then), but"
                    + " the acting adapters extend the state by " + Arrays.toString(widths) + "; a"
                    + " sequence cannot continue under other state extensions: start it again with a fresh cache");
        }
        for (int w : widths) {
            if (w < 0) {
                throw new IllegalArgumentException("extra state widths must be >= 0, found "
                        + Arrays.toString(widths));
            }
        }
        extraWidths = widths.clone();
        extra = new float[widths.length][];
        for (int l = 0; l < widths.length; l++) {
            extra[l] = new float[Math.multiplyExact(Math.multiplyExact(batch, dInner), widths[l])];
        }
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
        c.extraWidths = extraWidths.clone();
        c.extra = new float[extra.length][];
        for (int i = 0; i < extra.length; i++) {
            c.extra[i] = extra[i].clone();
        }
        c.position = position;
        return c;
    }
}
