package org.ssmpeft.runtime.backend;

import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.checkpoint.MambaConfig;

/**
 * A Mamba-1 language model on one compute backend, with the hooks of every acting adapter of an {@link AdapterSet}
 * applied (DESIGN.md §3). Symbols: B batch, T tokens per row, P virtual tokens of an acting prompt, V vocab.
 *
 * <p>Virtual tokens (prompt tuning at the embedding, prefix tuning per layer) and initial states act at the start of
 * a sequence only, i.e. when the cache is fresh ({@code cache.position() == 0}); offsets and low-rank deltas act at
 * every step, and state extensions at every step with their extra state carried in the cache
 * ({@link MambaCache#extraState}). So {@link #step} through a fresh cache reproduces {@link #forward}, token by token. Every backend uses
 * the one {@link MambaCache} type and advances its {@link MambaCache#position() position} by the logits rows a call
 * returns (tokens, plus a prompt's virtual tokens on a fresh cache), so a cache can move between backends.
 *
 * <p>Losses are the mean token cross-entropy of next-token prediction: labels (B, T) are aligned with the tokens, and
 * position t predicts label t+1 (transformers' {@code labels=input_ids} convention); {@link #IGNORE_INDEX} marks a
 * label without a target. With a prompt of P virtual tokens the labels are read as {@code [-100]·P + labels}, so the
 * last virtual token predicts label 0 (Hugging Face PEFT's convention).
 *
 * <p>Implementations are thread-safe for concurrent calls with distinct caches; adapters must not change during a
 * call. Backends call {@code Adapter.refreshDerived()} on the acting adapters before each forward.
 */
public interface MambaModel {

    /** The label of a position without a target (PyTorch's default ignore_index). */
    int IGNORE_INDEX = -100;

    /** The backend's name ({@code cpu}, {@code djl}, ...). */
    String backend();

    MambaConfig config();

    /** The dimensions adapters are sized from. */
    default ModelShape shape() {
        return config().toShape();
    }

    /** An adapter set with nothing attached, for calls on the plain base model. */
    default AdapterSet noAdapters() {
        return new AdapterSet(shape());
    }

    /** An all-zero recurrent state for {@code batch} sequences. */
    MambaCache newCache(int batch);

    /**
     * Runs tokens (B, T) from the state in {@code cache}, advanced in place. Logits are (B, P+T, V) when a prompt acts
     * on a fresh cache (one row per virtual token too, the fixture's convention), else (B, T, V).
     */
    Logits forward(int[][] tokens, AdapterSet adapters, MambaCache cache);

    /** {@link #forward(int[][], AdapterSet, MambaCache)} of fresh sequences (B, T), the cache thrown away. */
    default Logits forward(int[][] tokens, AdapterSet adapters) {
        return forward(tokens, adapters, newCache(tokens.length));
    }

    /**
     * The residual stream of fresh sequences (B, T) after every block, then after norm_f: layers + 1 arrays of
     * (B, P+T, d) (transformers' {@code output_hidden_states} without the embedding).
     */
    java.util.List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters);

    /** One decode step, one token per sequence (B) -> logits of the last position (B, V), advancing {@code cache}. */
    float[] step(int[] tokens, AdapterSet adapters, MambaCache cache);

    /** The loss of fresh sequences, forward only (evaluation, finite differences). */
    double loss(int[][] tokens, int[][] labels, AdapterSet adapters);

    /**
     * Loss of fresh sequences and its gradients: with respect to every parameter of every acting adapter (through
     * the tensors their hooks handed out and each adapter's {@code parameterGradients}), and with respect to the
     * base parameters named in {@code trainableBaseNames} (Hugging Face names, see
     * {@link org.ssmpeft.runtime.checkpoint.MambaWeights#parameters()}). Frozen weights get no weight gradient.
     *
     * @param labels (B, T) aligned with {@code tokens}, {@link #IGNORE_INDEX} for no target; often the tokens
     */
    LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                      Set<String> trainableBaseNames);
}
