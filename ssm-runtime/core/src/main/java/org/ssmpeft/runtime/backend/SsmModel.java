package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.shape.ModelShape;

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
        int[][] column = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) {
            column[b] = new int[] {tokens[b]};
        }
        return forward(column, adapters, state).last();
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
