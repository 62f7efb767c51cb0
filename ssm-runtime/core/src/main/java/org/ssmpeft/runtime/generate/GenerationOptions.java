package org.ssmpeft.runtime.generate;

import java.util.Set;

/**
 * How to decode. Lengths count generated tokens only (not the prompt); a stop token that ends a sequence counts as
 * generated (Hugging Face's beam scorer does the same when it divides by the length).
 *
 * @param maxNewTokens  at most this many tokens are generated, the stop token included
 * @param minNewTokens  stop tokens are masked (log-probability −∞) until this many tokens were generated, as
 *                      Hugging Face's MinLengthLogitsProcessor does after the log-softmax (no renormalisation)
 * @param stopTokens    token ids that end a sequence (EOS and others); empty: only the length ends it
 * @param numBeams      1: greedy; more: beam search
 * @param lengthPenalty a finished hypothesis scores {@code Σ log p / length^lengthPenalty}
 * @param earlyStopping beam search stops as soon as {@code numBeams} hypotheses are finished; false (Hugging Face's
 *                      default) stops when the best running beam can no longer beat the worst finished one,
 *                      estimated with the current length
 */
public record GenerationOptions(int maxNewTokens, int minNewTokens, Set<Integer> stopTokens, int numBeams,
                                double lengthPenalty, boolean earlyStopping) {

    public GenerationOptions {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be >= 1, found " + maxNewTokens);
        }
        if (minNewTokens < 0) {
            throw new IllegalArgumentException("min new tokens must be >= 0, found " + minNewTokens);
        }
        if (numBeams < 1) {
            throw new IllegalArgumentException("number of beams must be >= 1, found " + numBeams);
        }
        if (!Double.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("length penalty must be finite, found " + lengthPenalty);
        }
        stopTokens = Set.copyOf(stopTokens);
        for (int t : stopTokens) {
            if (t < 0) {
                throw new IllegalArgumentException("stop token ids must be >= 0, found " + t);
            }
        }
    }

    /** Greedy decoding of at most {@code maxNewTokens}, stopping at any of {@code stopTokens}. */
    public static GenerationOptions greedy(int maxNewTokens, int... stopTokens) {
        return new GenerationOptions(maxNewTokens, 0, ids(stopTokens), 1, 1.0, false);
    }

    /**
     * The reference evaluation's decoding (paper §10): 5 beams, EOS masked for the first 5 tokens, at most 1024 new
     * tokens, length penalty 1, no early stopping.
     */
    public static GenerationOptions paper(int eosTokenId) {
        return new GenerationOptions(1024, 5, Set.of(eosTokenId), 5, 1.0, false);
    }

    public GenerationOptions withMaxNewTokens(int n) {
        return new GenerationOptions(n, minNewTokens, stopTokens, numBeams, lengthPenalty, earlyStopping);
    }

    public GenerationOptions withMinNewTokens(int n) {
        return new GenerationOptions(maxNewTokens, n, stopTokens, numBeams, lengthPenalty, earlyStopping);
    }

    public GenerationOptions withStopTokens(int... ids) {
        return new GenerationOptions(maxNewTokens, minNewTokens, ids(ids), numBeams, lengthPenalty, earlyStopping);
    }

    public GenerationOptions withBeams(int beams) {
        return new GenerationOptions(maxNewTokens, minNewTokens, stopTokens, beams, lengthPenalty, earlyStopping);
    }

    public GenerationOptions withLengthPenalty(double penalty) {
        return new GenerationOptions(maxNewTokens, minNewTokens, stopTokens, numBeams, penalty, earlyStopping);
    }

    public GenerationOptions withEarlyStopping(boolean on) {
        return new GenerationOptions(maxNewTokens, minNewTokens, stopTokens, numBeams, lengthPenalty, on);
    }

    public boolean isStop(int token) {
        return stopTokens.contains(token);
    }

    private static Set<Integer> ids(int[] ids) {
        var s = new java.util.LinkedHashSet<Integer>();
        for (int i : ids) {
            s.add(i);
        }
        return s;
    }
}
