package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * An SSM language model on one compute backend, with the hooks of every acting adapter of an {@link AdapterSet}
 * applied (DESIGN.md §3). The backend computes; what acts where is resolved once, backend-neutrally, by
 * {@link org.ssmpeft.runtime.plan.HookPlan}, which also validates tokens, labels and base names and routes the
 * gradients back to each adapter. Symbols: B batch, T tokens per row, P virtual tokens of an acting prompt, V vocab.
 *
 * <p>Virtual tokens (prompt tuning at the embedding, prefix tuning per layer) and initial states act at the start of
 * a sequence only, i.e. when the state is fresh ({@link SsmState#isFresh()}); an acting initial state is added to the
 * fresh state ({@code h_{-1} = h_state + Σ h0}, the fresh state being zero unless imported). Offsets and low-rank
 * deltas act at every step, state extensions at every step with their extra state carried in the state. So
 * {@link #step} through a fresh state reproduces {@link #forward}, token by token.
 *
 * <p>Losses are the mean token cross-entropy of next-token prediction: labels (B, T) are aligned with the tokens, and
 * position t predicts label t+1 (transformers' {@code labels=input_ids} convention); {@link #IGNORE_INDEX} marks a
 * label without a target. With a prompt of P virtual tokens the labels are read as {@code [-100]·P + labels}, so the
 * last virtual token predicts label 0 (Hugging Face PEFT's convention).
 *
 * <p><b>Mixed-adapter batches.</b> {@link #forward(int[][], List, SsmState)} and {@link #step(int[], List, SsmState)}
 * take one adapter set per row: row b is computed under {@code perRow.get(b)}, in one call, and gives what row b
 * run alone under its set gives (bit for bit on cpu, within float32 rounding on cuda), and {@link #decoder(List,
 * SsmState)} decodes such a batch. Rows may differ in everything but what they must share (checked by {@link RowPlans},
 * which names the rows): the prompt length (logits are one (B, P+T, V) block: rows with prompts of different lengths
 * are refused, not padded), parameter deltas (they change the shared base weights) and state extension widths (one
 * state holds every row).
 *
 * <p>Implementations are thread-safe for concurrent calls with distinct states; adapters must not change during a
 * call.
 */
public interface SsmModel {

    /** The label of a position without a target (PyTorch's default ignore_index). */
    int IGNORE_INDEX = -100;

    /** The backend's name ({@code cpu}, {@code djl}, ...). */
    String backend();

    /** The model this was created from: family, dimensions, weights by Hugging Face name. */
    ModelSpec spec();

    /** The dimensions adapters are sized from. */
    default ModelShape shape() {
        return spec().shape();
    }

    /** An adapter set with nothing attached, for calls on the plain base model. */
    default AdapterSet noAdapters() {
        return new AdapterSet(shape());
    }

    /** An all-zero recurrent state for {@code batch} sequences, where this backend computes. */
    SsmState newState(int batch);

    /** A state of this backend holding a copy of {@code host} (from any backend's {@link SsmState#export()}). */
    SsmState importState(HostState host);

    /**
     * Runs tokens (B, T) from {@code state}, advanced in place. Logits are (B, P+T, V) when a prompt acts on a fresh
     * state (one row per virtual token too, the fixture's convention), else (B, T, V).
     */
    Logits forward(int[][] tokens, AdapterSet adapters, SsmState state);

    /** {@link #forward(int[][], AdapterSet, SsmState)} of fresh sequences (B, T), the state thrown away. */
    default Logits forward(int[][] tokens, AdapterSet adapters) {
        try (SsmState state = newState(tokens.length)) {
            return forward(tokens, adapters, state);
        }
    }

    /**
     * The residual stream of fresh sequences (B, T) after every block, then after norm_f: layers + 1 arrays of
     * (B, P+T, d) (transformers' {@code output_hidden_states} without the embedding).
     */
    List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters);

    /** One decode step, one token per sequence (B) -> logits of the last position (B, V), advancing {@code state}. */
    default float[] step(int[] tokens, AdapterSet adapters, SsmState state) {
        return forward(column(tokens), adapters, state).last();
    }

    /** One token per row (B) as the tokens (B, 1) of a forward: a decode step's. */
    static int[][] column(int[] tokens) {
        int[][] column = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) {
            column[b] = new int[] {tokens[b]};
        }
        return column;
    }

    /**
     * A mixed-adapter batch: runs tokens (B, T) from {@code state}, advanced in place, row b under the acting adapters
     * of {@code perRow.get(b)}; row b's logits are those of row b run alone under {@code perRow.get(b)} from row b of
     * the state. Logits are (B, P+T, V), P the prompt length every row shares (on a fresh state), else (B, T, V).
     * Fails naming the rows when {@code perRow} does not have one set per row, when a set is sized for another
     * model, or when rows disagree on the prompt length, the parameter deltas or the state extension widths.
     *
     * <p>By default row by row: each row is run alone from a copy of its state row, and written back with
     * {@link SsmState#setRows} (a backend whose state does not implement it refuses mixed batches here). A backend
     * that computes the batch in one pass overrides it (cpu and cuda: the base products over all rows, each row's
     * hooks on its own rows). A batch whose rows all act under the same adapters is one plain
     * {@link #forward(int[][], AdapterSet, SsmState)}.
     */
    default Logits forward(int[][] tokens, List<AdapterSet> perRow, SsmState state) {
        HookPlan.checkTokens(tokens, state.batch(), shape().vocab());
        RowPlans rows = RowPlans.resolve(spec(), perRow, tokens.length, state.isFresh());
        if (!rows.mixed()) {
            return forward(tokens, perRow.get(0), state);
        }
        int batch = tokens.length;
        SsmState[] parts = new SsmState[batch];
        for (int b = 0; b < batch; b++) { // every row copied before any advances the state's position
            parts[b] = state.repeat(b, 1);
        }
        float[] values = null;
        int length = 0;
        int vocab = 0;
        try {
            for (int b = 0; b < batch; b++) {
                Logits one = forward(new int[][] {tokens[b]}, perRow.get(b), parts[b]);
                if (values == null) {
                    length = one.length();
                    vocab = one.vocab();
                    values = new float[Math.multiplyExact(Math.multiplyExact(batch, length), vocab)];
                }
                System.arraycopy(one.values(), 0, values, b * length * vocab, length * vocab);
            }
            for (int b = 0; b < batch; b++) {
                state.setRows(b, parts[b]);
            }
        } finally {
            for (SsmState p : parts) {
                p.close();
            }
        }
        return new Logits(values, batch, length, vocab, rows.promptLength());
    }

    /** {@link #forward(int[][], List, SsmState)} of fresh sequences (B, T), the state thrown away. */
    default Logits forward(int[][] tokens, List<AdapterSet> perRow) {
        try (SsmState state = newState(tokens.length)) {
            return forward(tokens, perRow, state);
        }
    }

    /**
     * One decode step of a mixed-adapter batch, token b under {@code perRow.get(b)} -> logits of the last position
     * (B, V), advancing {@code state}: {@link #forward(int[][], List, SsmState)} of one token per row, so stepping
     * through a fresh state reproduces the mixed forward, and every row the row alone.
     */
    default float[] step(int[] tokens, List<AdapterSet> perRow, SsmState state) {
        return forward(column(tokens), perRow, state).last();
    }

    /**
     * A decoder of the rows of {@code state} under {@code adapters} ({@link Decoder}): by default the model's own
     * forward and step, ranked on the host; a backend that ranks on its device (and replays its step) overrides it.
     */
    default Decoder decoder(AdapterSet adapters, SsmState state) {
        return new Decoder.Host(this, adapters, state);
    }

    /**
     * A decoder of a mixed-adapter batch: row b of {@code state} under {@code perRow.get(b)}, its tokens those of
     * row b decoded alone ({@link #forward(int[][], List, SsmState)}'s rules and refusals, checked at the first
     * call). A row keeps its adapters by position: a {@link SsmState#reorder} between steps must move rows only among
     * rows with the same adapters (beam search reorders the beams of one request, which share them). By default the
     * model's per-row forward and step, ranked on the host; a backend that ranks on its device overrides it.
     */
    default Decoder decoder(List<AdapterSet> perRow, SsmState state) {
        return new Decoder.Host(this, perRow, state);
    }

    /** The loss of fresh sequences, forward only (evaluation, finite differences). */
    double loss(int[][] tokens, int[][] labels, AdapterSet adapters);

    /**
     * Loss of fresh sequences and its gradients: with respect to every parameter of every acting adapter, and with
     * respect to the base parameters named in {@code trainableBaseNames} (Hugging Face names, see
     * {@link ModelSpec#parameters()}). Frozen weights get no weight gradient.
     *
     * @param labels (B, T) aligned with {@code tokens}, {@link #IGNORE_INDEX} for no target; often the tokens
     */
    LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                      Set<String> trainableBaseNames);

    /**
     * As {@link #lossAndGradients(int[][], int[][], AdapterSet, Set)}, where {@code keepLogits} false says the
     * caller needs only the loss and the gradients (a training step): a backend may then leave the logits out
     * ({@link LossAndGradients#hasLogits()} false), which spares a GPU backend copying the (B, L, V) logits, 824 MB
     * at B 4, L 1024 and a 50,280-token vocabulary, to the host at every step. The loss and the gradients are the
     * same either way. By default the logits are kept.
     */
    default LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                              Set<String> trainableBaseNames, boolean keepLogits) {
        return lossAndGradients(tokens, labels, adapters, trainableBaseNames);
    }

    /**
     * A training run that keeps its trainable tensors, their gradients and AdamW's moments where this backend
     * computes, with only scalars coming back per step ({@link TrainingSession}); empty (the default) where the
     * backend does not offer one for these adapters and base names, and the trainer then runs the same steps on the
     * host through {@link #lossAndGradients}. The session computes the trainer's formulas; it reads the trainables'
     * values when it starts.
     */
    default Optional<TrainingSession> residentTraining(AdapterSet adapters, TrainingSession.Settings settings) {
        return Optional.empty();
    }
}
