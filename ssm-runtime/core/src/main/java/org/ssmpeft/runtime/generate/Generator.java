package org.ssmpeft.runtime.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Decoder;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.TopTokens;

/**
 * Greedy decoding and beam search through the recurrent step, on the model's {@link Decoder}: the prompt is run once
 * on a fresh state (so virtual tokens and initial states of the acting adapters apply), then every new token is one
 * step from the state, and only each row's best tokens come back ({@link TopTokens}; on cuda they are ranked on the
 * device and the step is a replayed graph). Memory per generated token is constant: the
 * recurrent state has a fixed size and nothing is recomputed over the growing sequence; beam search keeps one state
 * row per beam and reorders the rows when beams are reselected.
 *
 * <p>Beam search follows Hugging Face's {@code BeamSearchScorer} (num_return_sequences 1, batch 1): log-softmax of
 * each beam's logits, stop tokens masked to −∞ before {@code minNewTokens}, candidates ranked by beam score + log p
 * (the first step from beam 0 only; the global top is taken from each beam's own top, which holds it), the
 * top {@code max(2, 1 + stops) · beams} taken; a stop token among the top
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
        int[] stops = stops(options);
        try (Decoder decoder = model.decoder(adapters, cache)) {
            TopTokens top = decoder.prefill(new int[][] {prompt}, 1, masked(stops, options, 0));
            List<Integer> out = new ArrayList<>();
            double logProb = 0;
            for (int n = 0; n < options.maxNewTokens(); n++) {
                int best = top.id(0, 0);
                logProb += top.logProb(0, 0);
                if (options.isStop(best)) {
                    return result(out, OptionalInt.of(best), logProb, options);
                }
                out.add(best);
                if (n + 1 < options.maxNewTokens()) {
                    top = decoder.step(new int[] {best}, 1, masked(stops, options, n + 1));
                }
            }
            return result(out, OptionalInt.empty(), logProb, options);
        }
    }

    private static final int[] NONE = {};

    /** The stop tokens inside the vocabulary, sorted: what a step excludes before {@code minNewTokens}. */
    private int[] stops(GenerationOptions options) {
        int vocab = model.shape().vocab();
        return options.stopTokens().stream().mapToInt(Integer::intValue).filter(t -> t < vocab).sorted().toArray();
    }

    /** {@code stops} while fewer than {@code minNewTokens} were generated, else none. */
    private static int[] masked(int[] stops, GenerationOptions options, int generated) {
        return generated < options.minNewTokens() ? stops : NONE;
    }

    /** Beam search with {@code options.numBeams()} beams (1 is allowed: a beam search of width 1). */
    public Generation beamSearch(int[] prompt, GenerationOptions options) {
        checkPrompt(prompt);
        int k = options.numBeams();
        int vocab = model.shape().vocab();
        // candidates ranked per beam: the global top `keep` of (beam score + log p) is among each beam's top `keep`
        int keep = Math.max(2, 1 + options.stopTokens().size()) * k;
        int[] stops = stops(options);
        int perBeam = Math.min(keep, vocab - masked(stops, options, 0).length);
        // The prompt is prefilled once (Hugging Face expands it to a row per beam first: the same numbers, k times the
        // work), then its state is fanned out to one row per beam where the backend keeps it.
        TopTokens first;
        SsmState cache;
        try (SsmState one = model.newState(1); Decoder decoder = model.decoder(adapters, one)) {
            first = decoder.prefill(new int[][] {prompt}, perBeam, masked(stops, options, 0));
            cache = one.repeat(0, k);
        }
        try (cache; Decoder decoder = model.decoder(adapters, cache)) {
            return beamSearch(first, decoder, options, stops, keep, perBeam);
        }
    }

    private Generation beamSearch(TopTokens first, Decoder decoder, GenerationOptions options, int[] stops, int keep,
                                  int perBeam) {
        int k = options.numBeams();
        int vocab = model.shape().vocab();
        TopTokens top = first; // row b's candidates; the prefill's one row serves every beam at the first step
        double[] beamScores = new double[k];
        Arrays.fill(beamScores, 1, k, -1e9); // only beam 0 seeds the first step (the beams are equal)
        int[][] sequences = new int[k][0];
        var hypotheses = new Hypotheses(k, options.lengthPenalty(), options.earlyStopping());
        boolean done = false;
        for (int n = 0; n < options.maxNewTokens(); n++) {
            // candidate c = (beam, token) scored beam score + log p, ranked best first, ties to the lower b·V + token
            int count = k * perBeam;
            double[] scores = new double[count];
            long[] index = new long[count];
            for (int b = 0; b < k; b++) {
                int row = top.rows() == 1 ? 0 : b;
                for (int i = 0; i < perBeam; i++) {
                    scores[b * perBeam + i] = top.logProb(row, i) + beamScores[b];
                    index[b * perBeam + i] = (long) b * vocab + top.id(row, i);
                }
            }
            int[] ranked = rank(scores, index, Math.min(keep, count));
            int[] source = new int[k];
            int[] next = new int[k];
            double[] nextScores = new double[k];
            int filled = 0;
            for (int rank = 0; rank < ranked.length && filled < k; rank++) {
                int c = ranked[rank];
                int b = (int) (index[c] / vocab);
                int token = (int) (index[c] % vocab);
                if (options.isStop(token)) {
                    if (rank < k) {
                        hypotheses.add(sequences[b], OptionalInt.of(token), scores[c], n + 1);
                    }
                } else {
                    source[filled] = b;
                    next[filled] = token;
                    nextScores[filled] = scores[c];
                    filled++;
                }
            }
            if (filled < k) {
                throw new IllegalStateException("beam search: fewer than " + k + " candidates that are not stop"
                        + " tokens among the best " + ranked.length + " (vocabulary " + vocab + ")");
            }
            done = hypotheses.isDone(scores[ranked[0]], n + 1);
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
                decoder.state().reorder(source); // on the backend: no state crosses to the host
            }
            top = decoder.step(next, perBeam, masked(stops, options, n + 1));
        }
        if (!done) {
            for (int b = 0; b < k; b++) {
                hypotheses.add(sequences[b], OptionalInt.empty(), beamScores[b], sequences[b].length);
            }
        }
        Hypothesis best = hypotheses.best();
        return new Generation(best.tokens, best.stop, best.logProb, best.score);
    }

    // the positions of the n best candidates, best first: higher score, then lower index
    private static int[] rank(double[] scores, long[] index, int n) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int bySc = Double.compare(scores[b], scores[a]);
            return bySc != 0 ? bySc : Long.compare(index[a], index[b]);
        });
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = order[i];
        }
        return out;
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
