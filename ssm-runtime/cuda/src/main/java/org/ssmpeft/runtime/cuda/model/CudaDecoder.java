package org.ssmpeft.runtime.cuda.model;

import java.util.Arrays;
import java.util.List;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Decoder;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.TopTokens;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * Decoding on the device: a step is one replay of a recording of the whole model's step ({@link DeviceMemory#record},
 * a CUDA graph on the GPU: embedding, every layer's kernels and products, norm_f, the head, the ranking), so a token
 * costs one launch instead of one per kernel (about 9 per layer and 5.8 us each from Java), and only the rows' best
 * tokens and their log-probabilities come back ({@link LayerOps#topTokens}), not the (B, V) logits. Per step the host
 * uploads the B token ids, and the exclusion bitmask when it changed.
 *
 * <p>The recording is made at the first step from a used state, with the plan of a continuing sequence (offsets,
 * low-rank deltas, extensions: what acts at every step) uploaded once into the decoder's arena, and it keeps the
 * addresses it was recorded with: the state's buffers (a reorder gathers in place, so beam search reorders between
 * replays), the plan's, the activations'. So the adapters' values are read once, at that step, and must not change
 * while the decoder is open. A prefill, or a step from a fresh state, runs eagerly ({@link CudaMamba#prefill}); a
 * different {@code n} records again. The replay computes what the model's own step computes: the same kernels on the
 * same operands (the tests check the tokens and log-probabilities against the model's step and the host ranking).
 *
 * <p>A mixed-adapter batch's decoder (a stack per row) records the same step over a {@link BatchPlan}: each row's
 * hooks on its rows, the scan reading the rows' offsets per row, so 16 rows under 16 state offsets step as fast as
 * under one. Rows keep their adapters by position (a reorder must move rows only among rows of the same stack).
 *
 * <p>Not thread-safe (a decoder is one sequence batch's); its device work runs under the device lock.
 */
final class CudaDecoder implements Decoder {

    private final CudaMamba model;
    private final Device device;
    private final CudaState state;
    private final AdapterSet adapters; // one stack for every row, or null
    private final List<AdapterSet> perRow; // a mixed-adapter batch's stack per row, or null
    private final int vocab;

    // made at the first recorded step, under the lock, freed by close
    private DeviceMemory.Arena arena;
    private BatchPlan plan;
    private long tokenIds;
    private long logits;
    private long mask;
    private int[] maskHeld; // the excluded ids the device's mask holds now
    // the recording of n, with its (B, n) outputs
    private DeviceMemory.Replay replay;
    private int replayN;
    private long ids;
    private long logp;
    private boolean closed;

    /** Exactly one of {@code adapters} (every row's) and {@code perRow} (row b's at b) is given. */
    CudaDecoder(CudaMamba model, Device device, CudaState state, AdapterSet adapters, List<AdapterSet> perRow) {
        if ((adapters == null) == (perRow == null)) {
            throw new IllegalArgumentException("a decoder takes one adapter set or one per row");
        }
        this.model = model;
        this.device = device;
        this.state = state;
        this.adapters = adapters;
        this.perRow = perRow;
        this.vocab = model.config().vocabSize();
    }

    // the hook plans of the rows, of fresh sequences or of continuing ones
    private RowPlans rows(boolean fresh) {
        return perRow == null ? RowPlans.of(HookPlan.resolve(model.spec(), adapters, fresh), state.batch())
                : RowPlans.resolve(model.spec(), perRow, state.batch(), fresh);
    }

    @Override
    public SsmState state() {
        return state;
    }

    @Override
    public TopTokens prefill(int[][] tokens, int n, int[] excluded) {
        requireOpen();
        return model.prefill(tokens, rows(state.isFresh()), state, n, excluded);
    }

    @Override
    public TopTokens step(int[] tokens, int n, int[] excluded) {
        requireOpen();
        int[][] column = SsmModel.column(tokens);
        if (state.isFresh()) {
            return model.prefill(column, rows(true), state, n, excluded); // virtual tokens and initial states act
        }
        HookPlan.checkTokens(column, state.batch(), vocab);
        TopTokens.check(vocab, n, excluded);
        return device.locked(() -> {
            state.requireOpen();
            if (arena == null) {
                prepare();
            }
            if (replay == null || replayN != n) {
                record(n);
            }
            device.memory().uploadInts(tokenIds, tokens);
            if (!Arrays.equals(excluded, maskHeld)) {
                device.memory().uploadInts(mask, model.excludedMask(excluded));
                maskHeld = excluded.clone();
            }
            replay.launch();
            TopTokens top = model.topTokens(ids, logp, state.batch(), n);
            state.advance(1);
            return top;
        });
    }

    // the plan of a continuing sequence and the step's fixed buffers, in the decoder's own arena
    private void prepare() {
        RowPlans rows = rows(false);
        state.requireExtraState(rows.extraStateWidths());
        DeviceMemory.Arena a = device.memory().arena();
        try {
            plan = model.stepPlan(rows, a);
            tokenIds = a.floats(state.batch());
            logits = a.floats((long) state.batch() * vocab);
            mask = a.floats(model.maskWords());
            device.memory().zero(mask, model.maskWords());
            maskHeld = new int[0];
        } catch (RuntimeException | Error e) {
            device.memory().sync();
            a.close();
            throw e;
        }
        arena = a;
    }

    // records the step for n tokens per row (the previous recording's outputs stay in the arena until close)
    private void record(int n) {
        if (replay != null) {
            replay.close();
            replay = null;
        }
        ids = arena.floats((long) state.batch() * n);
        logp = arena.floats((long) state.batch() * n);
        long i = ids;
        long p = logp;
        replay = device.memory().record(() -> model.decodeStep(arena, plan, state, tokenIds, logits, i, p, n, mask));
        replayN = n;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this cuda decoder is closed");
        }
    }

    /** Frees the recording and the decoder's buffers; the state stays open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.ifOpen(() -> {
            try {
                if (replay != null) {
                    replay.close();
                }
            } finally {
                if (arena != null) {
                    device.memory().sync();
                    arena.close();
                }
            }
        });
    }
}
