package org.ssmpeft.runtime.backend;

import java.util.Arrays;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A recurrent state as plain Java arrays, in transformers' cache layout: per layer the conv state (B, C, K), the last
 * K pre-conv inputs oldest first (C = d_inner for Mamba-1, d_inner + 2·groups·N for Mamba-2, whose conv runs over
 * [x, B, C]), and the SSM state (B, D, N) (Mamba-2: (B, H, P, N), the same numbers). It is both the state of the
 * backends that compute on the host (cpu, djl: {@link #backend()} names the owner) and the neutral exchange format
 * of {@link SsmState#export()} and {@link SsmModel#importState} (owner {@value #EXPORTED}). A fresh state is all
 * zeros; backends write it in place and {@link #advance} it.
 *
 * <p><b>Extra state.</b> A state extension (additional-scan, {@link org.ssmpeft.api.hooks.StateExtensionHook}) adds
 * n'_l state dimensions per channel in layer l, and decoding must carry them like the base state. They live next to
 * it, so the base state keeps transformers' layout: per layer an extra state (B, D, n'_l), the concatenation of the
 * acting extensions' states in stack order, empty (width 0) when none acts there. A backend calls
 * {@link #requireExtraState} at the start of every call with the widths of the extensions acting now: a fresh state
 * allocates zero extra states of those widths, a used one requires the widths it was started with, so a sequence
 * never continues under other acting extensions than the ones that wrote its state.
 */
public final class HostState implements SsmState {

    /** The owner of an exported state: it belongs to no backend until one imports it. */
    public static final String EXPORTED = "host";

    private final String backend;
    private final int batch;
    private final int dInner;
    private final int dState;
    private final int convChannels;
    private final int convKernel;
    private final float[][] conv;
    private final float[][] ssm;
    private int[] extraWidths;
    private float[][] extra;
    private long position;

    private HostState(String backend, int batch, int layers, int dInner, int dState, int convChannels,
                      int convKernel) {
        this.backend = backend;
        this.batch = batch;
        this.dInner = dInner;
        this.dState = dState;
        this.convChannels = convChannels;
        this.convKernel = convKernel;
        this.conv = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, convChannels), convKernel)];
        this.ssm = new float[layers][Math.multiplyExact(Math.multiplyExact(batch, dInner), dState)];
        this.extraWidths = new int[layers];
        this.extra = new float[layers][0];
    }

    /** An all-zero state for {@code batch} sequences of a model of {@code shape}, owned by {@code backend}. */
    public static HostState zeros(ModelShape shape, int batch, String backend) {
        if (batch <= 0) {
            throw new IllegalArgumentException("state batch must be > 0, found " + batch);
        }
        return new HostState(backend, batch, shape.layers(), shape.dInner(), shape.dState(), convChannels(shape),
                shape.convKernel());
    }

    // C: the conv runs over x (Mamba-1) or over [x, B, C] (Mamba-2)
    private static int convChannels(ModelShape shape) {
        return shape.family() == ModelFamily.MAMBA2
                ? shape.dInner() + 2 * shape.groups() * shape.dState() : shape.dInner();
    }

    @Override
    public String backend() {
        return backend;
    }

    @Override
    public int batch() {
        return batch;
    }

    public int layers() {
        return conv.length;
    }

    /** D, channels of the SSM state per layer. */
    public int dInner() {
        return dInner;
    }

    /** N, state size per channel. */
    public int dState() {
        return dState;
    }

    /** C, channels of the conv state. */
    public int convChannels() {
        return convChannels;
    }

    /** K, inputs kept per channel for the causal conv. */
    public int convKernel() {
        return convKernel;
    }

    @Override
    public long position() {
        return position;
    }

    /** Records that a call consumed {@code positions} residual-stream positions per sequence (for backends). */
    public void advance(int positions) {
        if (positions <= 0) {
            throw new IllegalArgumentException("a call consumes at least one position, found " + positions);
        }
        position += positions;
    }

    /** The live conv state of one layer: (B, C, K), oldest input first. */
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
     * act in it (all 0 when none does); see the class comment.
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
            throw new IllegalArgumentException("this state was started with extra state widths "
                    + Arrays.toString(extraWidths) + " per layer (from the state extensions acting then), but"
                    + " the acting adapters extend the state by " + Arrays.toString(widths) + "; a"
                    + " sequence cannot continue under other state extensions: start it again with a fresh state");
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
     * For backends: fails unless this state is owned by {@code owner}, was made for {@code shape} and has
     * {@code batch} rows; the message names what differs and how to fix it.
     */
    public HostState requireFits(String owner, ModelShape shape, int batch) {
        if (!backend.equals(owner)) {
            throw new IllegalArgumentException(ownerMessage(this, owner));
        }
        requireShape(shape);
        if (batch != this.batch) {
            throw new IllegalArgumentException("expected " + this.batch + " token rows (the state's batch), found "
                    + batch);
        }
        return this;
    }

    private void requireShape(ModelShape shape) {
        // compared by the numbers, allocating nothing: this runs on every forward and decode step
        if (shape.layers() != layers() || shape.dInner() != dInner || shape.dState() != dState
                || convChannels(shape) != convChannels || shape.convKernel() != convKernel) {
            throw new IllegalArgumentException("the state is sized for (layers, D, N, conv channels, K) = ("
                    + layers() + ", " + dInner + ", " + dState + ", " + convChannels + ", " + convKernel
                    + ") but the model is " + shape.describe() + "; make it with the model's newState");
        }
    }

    /**
     * The message for a state passed to a model of another backend; {@code state} may be any implementation.
     */
    public static String ownerMessage(SsmState state, String owner) {
        if (EXPORTED.equals(state.backend())) {
            return "this state is an exported host copy; give it to the model's importState(...) first";
        }
        return "this state belongs to the '" + state.backend() + "' backend, not '" + owner + "'; move a sequence"
                + " between backends with " + owner + "Model.importState(state.export())";
    }

    /** For backends' {@code importState}: a copy owned by {@code owner}, checked against {@code shape}. */
    public HostState importedBy(String owner, ModelShape shape) {
        requireShape(shape);
        return copy(owner, identity(batch));
    }

    @Override
    public HostState export() {
        return copy(EXPORTED, identity(batch));
    }

    @Override
    public void reorder(int[] rows) {
        if (rows.length != batch) {
            throw new IllegalArgumentException("reorder: expected " + batch + " row indices (the batch), found "
                    + rows.length + "; use repeat or fork to change the batch");
        }
        if (Arrays.equals(rows, identity(batch))) {
            return;
        }
        HostState picked = copy(backend, rows);
        for (int l = 0; l < conv.length; l++) {
            conv[l] = picked.conv[l];
            ssm[l] = picked.ssm[l];
            extra[l] = picked.extra[l];
        }
    }

    @Override
    public void setRows(int first, SsmState rows) {
        if (!(rows instanceof HostState h) || !h.backend.equals(backend)) {
            throw new IllegalArgumentException(ownerMessage(rows, backend));
        }
        if (h.conv.length != conv.length || h.dInner != dInner || h.dState != dState
                || h.convChannels != convChannels || h.convKernel != convKernel) {
            throw new IllegalArgumentException("setRows: the rows' state is sized for another model");
        }
        if (first < 0 || first + h.batch > batch) {
            throw new IllegalArgumentException("setRows: rows [" + first + ", " + (first + h.batch)
                    + ") are outside the state's batch [0, " + batch + ")");
        }
        requireExtraState(h.extraWidths);
        for (int l = 0; l < conv.length; l++) {
            placeRows(h.conv[l], conv[l], first, h.batch);
            placeRows(h.ssm[l], ssm[l], first, h.batch);
            placeRows(h.extra[l], extra[l], first, h.batch);
        }
        position = h.position;
    }

    // to's rows [first, first + n) = from's n rows
    private static void placeRows(float[] from, float[] to, int first, int n) {
        if (n > 0) {
            System.arraycopy(from, 0, to, first * (from.length / n), from.length);
        }
    }

    @Override
    public HostState repeat(int row, int times) {
        if (times <= 0) {
            throw new IllegalArgumentException("repeat: times must be > 0, found " + times);
        }
        int[] rows = new int[times];
        Arrays.fill(rows, row);
        return copy(backend, rows);
    }

    @Override
    public HostState fork() {
        return copy(backend, identity(batch));
    }

    private static int[] identity(int n) {
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = i;
        }
        return rows;
    }

    // a new state of rows.length rows, row i = this row rows[i], owned by owner
    private HostState copy(String owner, int[] rows) {
        for (int r : rows) {
            if (r < 0 || r >= batch) {
                throw new IllegalArgumentException("row " + r + " is outside the state's batch [0, " + batch + ")");
            }
        }
        var c = new HostState(owner, rows.length, conv.length, dInner, dState, convChannels, convKernel);
        c.extraWidths = extraWidths.clone();
        c.extra = new float[extra.length][];
        for (int l = 0; l < conv.length; l++) {
            c.extra[l] = new float[rows.length * dInner * extraWidths[l]];
            copyRows(conv[l], c.conv[l], rows);
            copyRows(ssm[l], c.ssm[l], rows);
            copyRows(extra[l], c.extra[l], rows);
        }
        c.position = position;
        return c;
    }

    private void copyRows(float[] from, float[] to, int[] rows) {
        int row = from.length / batch;
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(from, rows[i] * row, to, i * row, row);
        }
    }
}
