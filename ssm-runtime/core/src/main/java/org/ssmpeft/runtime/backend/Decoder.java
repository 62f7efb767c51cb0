package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Objects;
import org.ssmpeft.api.composition.AdapterSet;

/**
 * Decoding a batch through one state under one adapter stack (or a stack per row: {@link SsmModel#decoder(List,
 * SsmState)}), with only each row's best tokens coming back per call
 * ({@link TopTokens}), not the (B, V) logits: what greedy decoding and beam search need. {@link #prefill} runs the
 * prompts from the state (on a fresh state the virtual tokens and initial states act, as in {@link SsmModel#forward});
 * {@link #step} feeds one token per row. The state advances as through the model's own calls, so a decoder's tokens
 * are the model's {@code forward}/{@code step} tokens; {@link SsmState#reorder} between steps reorders the rows (beam
 * search).
 *
 * <p>The adapters' values are read when a call needs them: a backend may keep them on its device from the decoder's
 * first step on (the cuda decoder captures its step once and replays it), so adapters must not change while a
 * decoder is open. {@link SsmModel#decoder}'s default computes on the host from the logits ({@link Host}); a backend
 * that can rank on its device overrides it. Not thread-safe; closing it leaves the state open.
 */
public interface Decoder extends AutoCloseable {

    /** The state the decoder advances. */
    SsmState state();

    /** Runs {@code tokens} (B, T) from the state; the best {@code n} next tokens per row, none of {@code excluded}. */
    TopTokens prefill(int[][] tokens, int n, int[] excluded);

    /** Runs one token per row from the state; the best {@code n} next tokens per row, none of {@code excluded}. */
    TopTokens step(int[] tokens, int n, int[] excluded);

    @Override
    void close();

    /** Any model's decoder: its {@code forward}/{@code step} logits, ranked on the host ({@link TopTokens#of}). */
    final class Host implements Decoder {

        private final SsmModel model;
        private final AdapterSet adapters; // every row's, or null
        private final List<AdapterSet> perRow; // row b's at b, or null
        private final SsmState state;

        public Host(SsmModel model, AdapterSet adapters, SsmState state) {
            this(model, Objects.requireNonNull(adapters, "adapters"), null, state);
        }

        /** A mixed-adapter batch's decoder: row b under {@code perRow.get(b)}. */
        public Host(SsmModel model, List<AdapterSet> perRow, SsmState state) {
            this(model, null, List.copyOf(Objects.requireNonNull(perRow, "perRow")), state);
        }

        private Host(SsmModel model, AdapterSet adapters, List<AdapterSet> perRow, SsmState state) {
            this.model = Objects.requireNonNull(model, "model");
            this.adapters = adapters;
            this.perRow = perRow;
            this.state = Objects.requireNonNull(state, "state");
        }

        @Override
        public SsmState state() {
            return state;
        }

        @Override
        public TopTokens prefill(int[][] tokens, int n, int[] excluded) {
            int vocab = model.shape().vocab();
            TopTokens.check(vocab, n, excluded);
            Logits logits = perRow == null ? model.forward(tokens, adapters, state)
                    : model.forward(tokens, perRow, state);
            return TopTokens.of(logits.last(), tokens.length, vocab, n, excluded);
        }

        @Override
        public TopTokens step(int[] tokens, int n, int[] excluded) {
            int vocab = model.shape().vocab();
            TopTokens.check(vocab, n, excluded);
            float[] logits = perRow == null ? model.step(tokens, adapters, state) : model.step(tokens, perRow, state);
            return TopTokens.of(logits, tokens.length, vocab, n, excluded);
        }

        @Override
        public void close() {
        }
    }
}
