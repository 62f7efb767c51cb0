package org.ssmpeft.runtime.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;

/**
 * Greedy decoding and beam search through the recurrent step: the prompt is run once through
 * {@link SsmModel#forward} on a fresh state (so virtual tokens and initial states of the acting adapters apply),
 * then every new token is one {@link SsmModel#step} from the state. Memory per generated token is constant: the
 * recurrent state has a fixed size and nothing is recomputed over the growing sequence; beam search keeps one state
 * row per beam and reorders the rows when beams are reselected.
 *
 * <p>Beam search follows Hugging Face's {@code BeamSearchScorer} (num_return_sequences 1, batch 1): log-softmax of
 * each beam's logits, stop tokens masked to −∞ before {@code minNewTokens}, candidates ranked by beam score + log p
 * (the first step from beam 0 only), the top {@code max(2, 1 + stops) · beams} taken; a stop token among the top
 * {@code beams} candidates closes a hypothesis scored {@code Σ log p / length^penalty}, other candidates fill the
 * next beams; finished when {@code beams} hypotheses exist and the best candidate cannot beat the worst (or at once
 * with early stopping), or at {@code maxNewTokens}, where the running beams join the hypotheses. Ties go to the lower
 * beam, then the lower token id.
 *
 * <p>One generator may be used for many prompts; calls are not thread-safe with one another unless the model is.
 */
public final class Generator {

    private final SsmModel model;
    private final AdapterSet adapters;

    public Generator(SsmModel model, AdapterSet adapters) {
        this.model = Objects.requireNonNull(model, "model");
        this.adapters = Objects.requireNonNull(adapters, "adapters");
    }

    /** Greedy with one beam (as Hugging Face's generate does), else beam search. */
    public Generation generate(int[] prompt, GenerationOptions options) {
        return options.numBeams() == 1 ? greedy(prompt, options) : beamSearch(prompt, options);
    }

    /** The most likely token at every step ({@code numBeams} is ignored). */
    public Generation greedy(int[] prompt, GenerationOptions options) {
        checkPrompt(prompt);
        try (SsmState state = model.newState(1)) {
            return greedy(prompt, options, state);
        }
    }

    private Generation greedy(int[] prompt, GenerationOptions options, SsmState cache) {
        Logits prefill = model.forward(new int[][] {prompt}, adapters, cache);
        float[] logits = prefill.at(0, prefill.length() - 1);
        List<Integer> out = new ArrayList<>();
        double logProb = 0;
        for (int n = 0; n < options.maxNewTokens(); n++) {
            boolean mask = n < options.minNewTokens();
            int best = -1;
            for (int v = 0; v < logits.length; v++) {
                if (mask && options.isStop(v)) {
                    continue;
                }
                if (best < 0 || logits[v] > logits[best]) {
                    best = v;
                }
            }
            if (best < 0) {
                throw new IllegalStateException("every token of the vocabulary (" + logits.length + ") is a stop"
                        + " token masked by min new tokens " + options.minNewTokens());
            }
            logProb += logSoftmax(logits, 0, logits.length)[best];
            if (options.isStop(best)) {
                return result(out, OptionalInt.of(best), logProb, options);
            }
            out.add(best);
            if (n + 1 < options.maxNewTokens()) {
                logits = model.step(new int[] {best}, adapters, cache);
            }
        }
        return result(out, OptionalInt.empty(), logProb, options);
    }

    /** Beam search with {@code options.numBeams()} beams (1 is allowed: a beam search of width 1). */
    public Generation beamSearch(int[] prompt, GenerationOptions options) {
        checkPrompt(prompt);
        int k = options.numBeams();
        // The prompt is prefilled once (Hugging Face expands it to a row per beam first: the same numbers, k times the
        // work), then its state is fanned out to one row per beam where the backend keeps it.
        Logits prefill;
        SsmState cache;
        try (SsmState one = model.newState(1)) {
            prefill = model.forward(new int[][] {prompt}, adapters, one);
            cache = one.repeat(0, k);
        }
        try (cache) {
            return beamSearch(prefill, cache, options);
        }
    }

    private Generation beamSearch(Logits prefill, SsmState cache, GenerationOptions options) {
        int k = options.numBeams();
        int vocab = prefill.vocab();
        float[] last = prefill.last();
        float[] logits = new float[k * vocab];
        for (int b = 0; b < k; b++) {
            System.arraycopy(last, 0, logits, b * vocab, vocab);
        }
        double[] beamScores = new double[k];
        Arrays.fill(beamScores, 1, k, -1e9); // only beam 0 seeds the first step (the beams are equal)
        int[][] sequences = new int[k][0];
        var hypotheses = new Hypotheses(k, options.lengthPenalty(), options.earlyStopping());
        int keep = Math.max(2, 1 + options.stopTokens().size()) * k;
        boolean done = false;
        for (int n = 0; n < options.maxNewTokens(); n++) {
            double[] scores = new double[k * vocab];
            for (int b = 0; b < k; b++) {
                double[] lp = logSoftmax(logits, b * vocab, vocab);
                if (n < options.minNewTokens()) {
                    for (int s : options.stopTokens()) {
                        if (s < vocab) {
                            lp[s] = Double.NEGATIVE_INFINITY;
                        }
                    }
                }
                for (int v = 0; v < vocab; v++) {
                    scores[b * vocab + v] = lp[v] + beamScores[b];
                }
            }
            int[] top = topK(scores, Math.min(keep, scores.length));
            int[] source = new int[k];
            int[] next = new int[k];
            double[] nextScores = new double[k];
            int filled = 0;
            for (int rank = 0; rank < top.length && filled < k; rank++) {
                int b = top[rank] / vocab;
                int token = top[rank] % vocab;
                if (options.isStop(token)) {
                    if (rank < k) {
                        hypotheses.add(sequences[b], OptionalInt.of(token), scores[top[rank]], n + 1);
                    }
                } else {
                    source[filled] = b;
                    next[filled] = token;
                    nextScores[filled] = scores[top[rank]];
                    filled++;
                }
            }
            if (filled < k) {
                throw new IllegalStateException("beam search: fewer than " + k + " candidates that are not stop"
                        + " tokens among the best " + top.length + " (vocabulary " + vocab + ")");
            }
            done = hypotheses.isDone(scores[top[0]], n + 1);
            if (done) {
                break;
            }
            int[][] grown = new int[k][];
            for (int i = 0; i < k; i++) {
                grown[i] = Arrays.copyOf(sequences[source[i]], n + 1);
                grown[i][n] = next[i];
            }
            sequences = grown;
            beamScores = nextScores;
            if (n + 1 == options.maxNewTokens()) {
                break;
            }
            if (!isIdentity(source)) {
                cache.reorder(source); // on the backend: no state crosses to the host
            }
            logits = model.step(next, adapters, cache);
        }
        if (!done) {
            for (int b = 0; b < k; b++) {
                hypotheses.add(sequences[b], OptionalInt.empty(), beamScores[b], sequences[b].length);
            }
        }
        Hypothesis best = hypotheses.best();
        return new Generation(best.tokens, best.stop, best.logProb, best.score);
    }

    private Generation result(List<Integer> tokens, OptionalInt stop, double logProb, GenerationOptions options) {
        int[] t = tokens.stream().mapToInt(Integer::intValue).toArray();
        int length = t.length + (stop.isPresent() ? 1 : 0);
        return new Generation(t, stop, logProb, logProb / Math.pow(length, options.lengthPenalty()));
    }

    private static void checkPrompt(int[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("generation needs a prompt of at least one token (e.g. BOS)");
        }
    }

    private static boolean isIdentity(int[] source) {
        for (int i = 0; i < source.length; i++) {
            if (source[i] != i) {
                return false;
            }
        }
        return true;
    }

    /** log-softmax of {@code logits[from, from + n)} in float64. */
    static double[] logSoftmax(float[] logits, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[from + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[from + i] - max);
        }
        double lse = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = logits[from + i] - lse;
        }
        return out;
    }

    /** Indices of the {@code n} largest scores, best first; ties to the lower index. */
    static int[] topK(double[] scores, int n) {
        int[] idx = new int[n];
        int size = 0;
        for (int i = 0; i < scores.length; i++) {
            double s = scores[i];
            if (size == n && !(s > scores[idx[n - 1]])) {
                continue;
            }
            int pos = size == n ? n - 1 : size++;
            while (pos > 0 && s > scores[idx[pos - 1]]) {
                idx[pos] = idx[pos - 1];
                pos--;
            }
            idx[pos] = i;
        }
        return Arrays.copyOf(idx, size);
    }

    private record Hypothesis(int[] tokens, OptionalInt stop, double logProb, double score) {
    }

    /** Hugging Face's BeamHypotheses: the best {@code k} finished hypotheses by length-penalised score. */
    private static final class Hypotheses {
        private final int k;
        private final double lengthPenalty;
        private final boolean earlyStopping;
        private final List<Hypothesis> beams = new ArrayList<>();
        private double worst = 1e9;

        Hypotheses(int k, double lengthPenalty, boolean earlyStopping) {
            this.k = k;
            this.lengthPenalty = lengthPenalty;
            this.earlyStopping = earlyStopping;
        }

        void add(int[] tokens, OptionalInt stop, double logProb, int generatedLength) {
            double score = logProb / Math.pow(generatedLength, lengthPenalty);
            if (beams.size() < k || score > worst) {
                beams.add(new Hypothesis(tokens.clone(), stop, logProb, score));
                if (beams.size() > k) {
                    int worstAt = 0;
                    for (int i = 1; i < beams.size(); i++) {
                        if (beams.get(i).score < beams.get(worstAt).score) {
                            worstAt = i;
                        }
                    }
                    beams.remove(worstAt);
                    worst = beams.stream().mapToDouble(Hypothesis::score).min().orElseThrow();
                } else {
                    worst = Math.min(score, worst);
                }
            }
        }

        boolean isDone(double bestScoreSum, int generatedLength) {
            if (beams.size() < k) {
                return false;
            }
            if (earlyStopping) {
                return true;
            }
            return worst >= bestScoreSum / Math.pow(generatedLength, lengthPenalty);
        }

        Hypothesis best() {
            Hypothesis best = null;
            for (Hypothesis h : beams) {
                if (best == null || h.score >= best.score) { // a later one wins a tie, as HF's sort + pop
                    best = h;
                }
            }
            return best;
        }
    }
}
