package org.ssmpeft.runtime.cuda.model;

import java.util.Arrays;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.SsmState;

/**
 * The recurrent state of a batch on the GPU, in {@link HostState}'s layout per layer: the conv state (B, D, K), the
 * last K pre-conv inputs oldest first; the SSM state (B, D, N); and the extra state (B, D, n'_l) of the acting state
 * extensions (width 0 where none acts), with HostState's rule: a fresh state takes the widths of the first call, a
 * used one continues only under the same ones. A decode step reads and writes it in place on the device; only
 * {@link #export()} copies it to the host. Every operation runs under the model's device lock; {@link #close}
 * frees its memory (a model's close frees its states' too).
 */
public final class CudaState implements SsmState {

    private final CudaMamba model;
    private final Device device;
    private final int batch;
    private final int layers;
    private final int dInner;
    private final int dState;
    private final int convKernel;
    private final DeviceMemory.Arena arena;
    private final boolean ownsArena;
    private final long[] conv;
    private final long[] ssm;
    private long[] extra;
    private int[] extraWidths;
    private long position;
    private boolean closed;

    /**
     * An all-zero state of {@code batch} rows in {@code arena}; {@code ownsArena}: the state frees it on close (a
     * call's own throwaway state lives in the call's arena).
     */
    CudaState(CudaMamba model, Device device, int batch, DeviceMemory.Arena arena, boolean ownsArena) {
        if (batch <= 0) {
            throw new IllegalArgumentException("state batch must be > 0, found " + batch);
        }
        ModelShape s = model.shape();
        this.model = model;
        this.device = device;
        this.batch = batch;
        this.layers = s.layers();
        this.dInner = s.dInner();
        this.dState = s.dState();
        this.convKernel = s.convKernel();
        this.arena = arena;
        this.ownsArena = ownsArena;
        this.conv = new long[layers];
        this.ssm = new long[layers];
        this.extra = new long[layers];
        this.extraWidths = new int[layers];
        for (int l = 0; l < layers; l++) {
            conv[l] = zeros(convFloats());
            ssm[l] = zeros(ssmFloats());
        }
    }

    private long zeros(long floats) {
        if (floats == 0) {
            return 0;
        }
        long at = arena.floats(floats);
        device.memory().zero(at, floats);
        return at;
    }

    private long convFloats() {
        return (long) batch * dInner * convKernel;
    }

    private long ssmFloats() {
        return (long) batch * dInner * dState;
    }

    private long extraFloats(int l) {
        return (long) batch * dInner * extraWidths[l];
    }

    @Override
    public String backend() {
        return device.backend();
    }

    @Override
    public int batch() {
        return batch;
    }

    @Override
    public long position() {
        return position;
    }

    CudaMamba model() {
        return model;
    }

    /** Layer l's conv state (B, D, K). */
    long conv(int l) {
        return conv[l];
    }

    /** Layer l's SSM state (B, D, N). */
    long ssm(int l) {
        return ssm[l];
    }

    /** Layer l's extra state (B, D, n'_l), 0 when no extension acts there. */
    long extra(int l) {
        return extra[l];
    }

    int extraWidth(int l) {
        return extraWidths[l];
    }

    /** Records that a call consumed {@code positions} residual-stream positions per row. */
    void advance(int positions) {
        position += positions;
    }

    /** At the start of a call, under the lock, with the widths n'_l of the extensions acting now (HostState's rule). */
    void requireExtraState(int[] widths) {
        if (Arrays.equals(widths, extraWidths)) {
            return;
        }
        if (!isFresh()) {
            throw new IllegalArgumentException("this state was started with extra state widths "
                    + Arrays.toString(extraWidths) + " per layer (from the state extensions acting then), but"
                    + " the acting adapters extend the state by " + Arrays.toString(widths) + "; a"
                    + " sequence cannot continue under other state extensions: start it again with a fresh state");
        }
        extraWidths = widths.clone();
        extra = new long[layers];
        for (int l = 0; l < layers; l++) {
            extra[l] = zeros(extraFloats(l)); // an earlier fresh width's buffers stay in the arena until close
        }
    }

    void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this cuda state is closed");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // host copies

    @Override
    public HostState export() {
        return device.locked(() -> {
            requireOpen();
            HostState h = HostState.zeros(model.shape(), batch, HostState.EXPORTED);
            h.requireExtraState(extraWidths);
            DeviceMemory mem = device.memory();
            for (int l = 0; l < layers; l++) {
                System.arraycopy(mem.download(conv[l], convFloats()), 0, h.convState(l), 0, h.convState(l).length);
                System.arraycopy(mem.download(ssm[l], ssmFloats()), 0, h.ssmState(l), 0, h.ssmState(l).length);
                if (extraWidths[l] > 0) {
                    System.arraycopy(mem.download(extra[l], extraFloats(l)), 0, h.extraState(l), 0,
                            h.extraState(l).length);
                }
            }
            advanceHost(h, position);
            return h;
        });
    }

    private static void advanceHost(HostState h, long positions) {
        while (positions > 0) {
            int step = (int) Math.min(Integer.MAX_VALUE, positions);
            h.advance(step);
            positions -= step;
        }
    }

    /** A new state of this model holding a copy of a checked host state (under the lock). */
    static CudaState of(CudaMamba model, Device device, HostState host) {
        int layers = host.layers();
        int[] widths = new int[layers];
        for (int l = 0; l < layers; l++) {
            widths[l] = host.extraStateWidth(l);
        }
        CudaState s = new CudaState(model, device, host.batch(), device.memory().arena(), true);
        try {
            s.requireExtraState(widths);
            DeviceMemory mem = device.memory();
            for (int l = 0; l < layers; l++) {
                mem.upload(s.conv[l], host.convState(l));
                mem.upload(s.ssm[l], host.ssmState(l));
                if (widths[l] > 0) {
                    mem.upload(s.extra[l], host.extraState(l));
                }
            }
            s.position = host.position();
            return s;
        } catch (RuntimeException | Error e) {
            s.free();
            throw e;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // rows: reorder (beam search), repeat (a prefilled prompt fanned out), fork

    @Override
    public void reorder(int[] rows) {
        if (rows.length != batch) {
            throw new IllegalArgumentException("reorder: expected " + batch + " row indices (the batch), found "
                    + rows.length + "; use repeat or fork to change the batch");
        }
        checkRows(rows);
        int[] identity = new int[batch];
        Arrays.setAll(identity, i -> i);
        if (Arrays.equals(rows, identity)) {
            return;
        }
        device.locked(() -> {
            requireOpen();
            // gather from a copy of each buffer back into it, one launch a buffer: the state keeps its buffers
            try (DeviceMemory.Arena tmp = device.memory().arena()) {
                long index = upload(tmp, rows);
                for (int l = 0; l < layers; l++) {
                    gatherInPlace(tmp, conv[l], convFloats() / batch, index);
                    gatherInPlace(tmp, ssm[l], ssmFloats() / batch, index);
                    if (extraWidths[l] > 0) {
                        gatherInPlace(tmp, extra[l], extraFloats(l) / batch, index);
                    }
                }
                device.memory().sync(); // the copies finish before tmp is freed
            }
        });
    }

    // the row indices on the device, in tmp
    private long upload(DeviceMemory.Arena tmp, int[] rows) {
        long index = tmp.floats(rows.length);
        device.memory().uploadInts(index, rows);
        return index;
    }

    private void gatherInPlace(DeviceMemory.Arena tmp, long buffer, long rowFloats, long index) {
        long copy = tmp.floats(rowFloats * batch);
        device.memory().copy(copy, buffer, rowFloats * batch);
        device.layers().gatherRows(buffer, copy, index, batch, rowFloats);
    }

    private void checkRows(int[] rows) {
        for (int r : rows) {
            if (r < 0 || r >= batch) {
                throw new IllegalArgumentException("row " + r + " is outside the state's batch [0, " + batch + ")");
            }
        }
    }

    @Override
    public CudaState repeat(int row, int times) {
        if (times <= 0) {
            throw new IllegalArgumentException("repeat: times must be > 0, found " + times);
        }
        int[] rows = new int[times];
        Arrays.fill(rows, row);
        checkRows(rows);
        return picked(rows);
    }

    @Override
    public CudaState fork() {
        int[] rows = new int[batch];
        Arrays.setAll(rows, i -> i);
        return picked(rows);
    }

    // a new state of rows.length rows of this model, row i = this row rows[i]
    private CudaState picked(int[] rows) {
        return device.locked(() -> {
            requireOpen();
            CudaState s = model.register(new CudaState(model, device, rows.length, device.memory().arena(), true));
            s.requireExtraState(extraWidths);
            try (DeviceMemory.Arena tmp = device.memory().arena()) {
                long index = upload(tmp, rows);
                for (int l = 0; l < layers; l++) {
                    device.layers().gatherRows(s.conv[l], conv[l], index, rows.length, convFloats() / batch);
                    device.layers().gatherRows(s.ssm[l], ssm[l], index, rows.length, ssmFloats() / batch);
                    if (extraWidths[l] > 0) {
                        device.layers().gatherRows(s.extra[l], extra[l], index, rows.length, extraFloats(l) / batch);
                    }
                }
                device.memory().sync(); // the gathers finish before tmp is freed
            }
            s.position = position;
            return s;
        });
    }

    /**
     * Rows [first, first + n) of this state become a copy of {@code rows} (n rows of this model's state), their
     * position included: how {@code SsmModel}'s row-by-row mixed-adapter batch writes each row's result back.
     */
    @Override
    public void setRows(int first, SsmState rows) {
        if (!(rows instanceof CudaState r)) {
            throw new IllegalArgumentException(HostState.ownerMessage(rows, model.backend()));
        }
        if (r.model != model) {
            throw new IllegalArgumentException("setRows: the rows' state belongs to another cuda model; move a"
                    + " sequence between models with model.importState(state.export())");
        }
        if (first < 0 || first + r.batch > batch) {
            throw new IllegalArgumentException("setRows: rows [" + first + ", " + (first + r.batch)
                    + ") are outside the state's batch [0, " + batch + ")");
        }
        device.locked(() -> {
            requireOpen();
            r.requireOpen();
            requireExtraState(r.extraWidths);
            DeviceMemory mem = device.memory();
            for (int l = 0; l < layers; l++) {
                mem.copy(conv[l] + 4L * first * (convFloats() / batch), r.conv[l], r.convFloats());
                mem.copy(ssm[l] + 4L * first * (ssmFloats() / batch), r.ssm[l], r.ssmFloats());
                if (extraWidths[l] > 0) {
                    mem.copy(extra[l] + 4L * first * (extraFloats(l) / batch), r.extra[l], r.extraFloats(l));
                }
            }
            position = r.position;
            return null;
        });
    }

    @Override
    public void close() {
        device.ifOpen(this::free); // a closed model freed its states' memory already
        closed = true;
    }

    /** Frees the memory, under the lock (idempotent). */
    void free() {
        if (closed) {
            return;
        }
        closed = true;
        if (ownsArena) {
            device.memory().sync(); // queued work on these buffers finishes first
            arena.close();
            model.unregister(this);
        }
    }
}
