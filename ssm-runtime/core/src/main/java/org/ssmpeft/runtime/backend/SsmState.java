package org.ssmpeft.runtime.backend;

/**
 * The recurrent state of a batch of sequences, owned by the backend that computes it: host arrays on cpu and djl,
 * device memory on a GPU backend. A decode step reads and writes it where it lives; nothing crosses to the host
 * unless {@link #export()} is called. The operations generation needs are the backend's own:
 * {@link #reorder} (beam search), {@link #repeat} (one prefilled prompt into k beams), {@link #fork} (branch).
 *
 * <p><b>Position.</b> {@link #position()} counts the residual-stream positions consumed per sequence: the tokens
 * given, plus an acting prompt's virtual tokens, which a call on a fresh state prepends (per-layer prefix tokens are
 * not counted). Position 0 is a fresh state: the hooks that act before the first token (prompt, prefix, initial
 * state) apply only then.
 *
 * <p>A state is used by one caller at a time; a model refuses a state of another backend or another model shape,
 * naming both. To move a sequence between backends: {@code other.importState(state.export())}.
 */
public interface SsmState extends AutoCloseable {

    /** The backend that owns this state. */
    String backend();

    /** Sequences (rows) in this state. */
    int batch();

    /** Residual-stream positions consumed so far per sequence; 0 for a fresh state. */
    long position();

    /** Whether no position has been consumed yet, so the start-of-sequence hooks act on the next call. */
    default boolean isFresh() {
        return position() == 0;
    }

    /** A copy on the host in the neutral layout ({@link HostState}), e.g. for tests or to move to another backend. */
    HostState export();

    /**
     * In place: row i becomes the old row {@code rows[i]} (every layer's conv, SSM and extra state); rows may repeat
     * (beam search keeps the best continuations, some from the same beam). {@code rows.length} must be the batch.
     */
    void reorder(int[] rows);

    /** A new state of {@code times} rows, each a copy of row {@code row} (a prefilled prompt fanned out to beams). */
    SsmState repeat(int row, int times);

    /**
     * In place: rows {@code [first, first + rows.batch())} become copies of the rows of {@code rows}, a state of the
     * same backend and model, and this state takes its position and extra state widths (every row of a state shares
     * them; widths may change only while this state is fresh). What a mixed-adapter batch computed row by row
     * ({@link SsmModel#forward(int[][], java.util.List, SsmState)}'s default) writes back with. By default not
     * supported: a backend whose state lives elsewhere than {@link HostState} implements it where its state lives.
     */
    default void setRows(int first, SsmState rows) {
        throw new UnsupportedOperationException("the '" + backend() + "' backend's state cannot yet take rows of"
                + " another state, which a mixed-adapter batch computed row by row needs; run each row with its own"
                + " state, or use the cpu backend, which computes mixed-adapter batches natively");
    }

    /** An independent copy. */
    SsmState fork();

    /** Releases what the state holds (device memory); host states hold nothing to release. */
    @Override
    default void close() {
    }
}
