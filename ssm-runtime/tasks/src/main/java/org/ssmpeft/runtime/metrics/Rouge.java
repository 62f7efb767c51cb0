package org.ssmpeft.runtime.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * ROUGE (Lin, 2004) as Google's {@code rouge_score} package computes it with the defaults HF
 * {@code evaluate.load("rouge")} uses (no stemmer, newline-split summaries for ROUGE-Lsum), which is what the paper
 * scored SAMSum with (paper.md §10).
 *
 * <ul>
 *   <li>Tokens: lower-case the text, replace every run of characters outside {@code [a-z0-9]} by a space, split on
 *       white space, drop empty tokens. Non-ASCII letters are separators, as in {@code rouge_score}
 *       ({@code "café"} gives {@code caf}).</li>
 *   <li>ROUGE-N: with clipped overlap {@code m = Σ_g min(c_ref(g), c_pred(g))} over n-grams g,
 *       {@code P = m / max(#pred n-grams, 1)}, {@code R = m / max(#ref n-grams, 1)}.</li>
 *   <li>ROUGE-L (sentence level): {@code P = LCS / |pred|}, {@code R = LCS / |ref|}, 0 when either is empty.</li>
 *   <li>ROUGE-Lsum (summary level): texts split into sentences at {@code '\n'} (empty ones dropped); for every
 *       reference sentence r_i the union LCS of r_i with each prediction sentence, as token positions of r_i; hits
 *       counted once per token up to the token's count in either text (ROUGE 1.5.5's guard against double counting);
 *       {@code P = hits / #pred tokens}, {@code R = hits / #ref tokens}.</li>
 *   <li>{@code F = 2PR / (P + R)}, 0 when {@code P + R = 0}.</li>
 *   <li>Several references: per ROUGE type the reference with the highest F (the first on ties), as
 *       {@code RougeScorer.score_multi}.</li>
 *   <li>Corpus: the arithmetic mean of the per-example F values. {@code evaluate} reports the median of 1000
 *       bootstrap resamples of that mean ({@code BootstrapAggregator}'s {@code mid}, unseeded), an estimate of the
 *       same number that moves in the third decimal on small corpora; this class reports the mean itself, what
 *       {@code evaluate} gives with {@code use_aggregator=False} averaged.</li>
 * </ul>
 *
 * <p>Not offered: Porter stemming ({@code use_stemmer=True} runs NLTK's Porter stemmer in its NLTK_EXTENSIONS mode,
 * whose irregular forms and extra rules this class does not reproduce), and NLTK sentence splitting for ROUGE-Lsum
 * ({@code split_summaries=True}); put newlines between sentences before scoring instead.
 */
public final class Rouge {

    /** The ROUGE variants, with {@code evaluate}'s key names. */
    public enum Type {
        ROUGE_1("rouge1"), ROUGE_2("rouge2"), ROUGE_L("rougeL"), ROUGE_LSUM("rougeLsum");

        private final String key;

        Type(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    /** Precision, recall and F-measure of one ROUGE type on one example. */
    public record PrecisionRecallF(double precision, double recall, double f) {
        public static final PrecisionRecallF ZERO = new PrecisionRecallF(0, 0, 0);

        static PrecisionRecallF of(double precision, double recall) {
            double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
            return new PrecisionRecallF(precision, recall, f);
        }
    }

    /** The four ROUGE types of one example. */
    public record Example(PrecisionRecallF rouge1, PrecisionRecallF rouge2, PrecisionRecallF rougeL,
                          PrecisionRecallF rougeLsum) {
        public PrecisionRecallF get(Type type) {
            return switch (type) {
                case ROUGE_1 -> rouge1;
                case ROUGE_2 -> rouge2;
                case ROUGE_L -> rougeL;
                case ROUGE_LSUM -> rougeLsum;
            };
        }
    }

    /** Corpus scores: the mean F of each type, in [0, 1], as {@code evaluate}'s {@code rouge1 ... rougeLsum}. */
    public record Result(double rouge1, double rouge2, double rougeL, double rougeLsum) {
        public double get(Type type) {
            return switch (type) {
                case ROUGE_1 -> rouge1;
                case ROUGE_2 -> rouge2;
                case ROUGE_L -> rougeL;
                case ROUGE_LSUM -> rougeLsum;
            };
        }

        public List<Score> toScores() {
            return List.of(Score.of("rouge1", rouge1), Score.of("rouge2", rouge2), Score.of("rougeL", rougeL),
                    Score.of("rougeLsum", rougeLsum));
        }
    }

    private static final Pattern NON_ALPHANUMERIC = Pattern.compile("[^a-z0-9]+");

    private Rouge() {
    }

    /** {@code rouge_score}'s default tokeniser, without stemming. */
    public static List<String> tokenize(String text) {
        String cleaned = NON_ALPHANUMERIC.matcher(text.toLowerCase(Locale.ROOT)).replaceAll(" ");
        List<String> tokens = new ArrayList<>();
        for (String t : cleaned.split(" ")) {
            if (!t.isEmpty()) {
                tokens.add(t);
            }
        }
        return tokens;
    }

    /** All four types for one prediction against one reference ({@code RougeScorer.score(target, prediction)}). */
    public static Example score(String prediction, String reference) {
        List<String> ref = tokenize(reference);
        List<String> pred = tokenize(prediction);
        return new Example(rougeN(pred, ref, 1), rougeN(pred, ref, 2), rougeL(pred, ref),
                rougeLsum(sentences(prediction), sentences(reference)));
    }

    /** Per type the best-F reference, the first on ties ({@code RougeScorer.score_multi}). */
    public static Example scoreMulti(String prediction, List<String> references) {
        if (references.isEmpty()) {
            throw new IllegalArgumentException("an example has no reference; give each prediction at least one");
        }
        PrecisionRecallF[] best = new PrecisionRecallF[Type.values().length];
        for (String reference : references) {
            Example e = score(prediction, reference);
            for (Type type : Type.values()) {
                PrecisionRecallF s = e.get(type);
                if (best[type.ordinal()] == null || s.f() > best[type.ordinal()].f()) {
                    best[type.ordinal()] = s;
                }
            }
        }
        return new Example(best[0], best[1], best[2], best[3]);
    }

    /** Corpus ROUGE, one reference per example: the mean F per type. */
    public static Result corpus(List<String> predictions, List<String> references) {
        Inputs.sameSize(predictions, references, "predictions", "references");
        List<Example> examples = new ArrayList<>(predictions.size());
        for (int i = 0; i < predictions.size(); i++) {
            examples.add(score(predictions.get(i), references.get(i)));
        }
        return mean(examples);
    }

    /** Corpus ROUGE, several references per example: the mean over examples of the best reference's F. */
    public static Result corpusMulti(List<String> predictions, List<? extends List<String>> references) {
        Inputs.sameSize(predictions, references, "predictions", "references");
        List<Example> examples = new ArrayList<>(predictions.size());
        for (int i = 0; i < predictions.size(); i++) {
            examples.add(scoreMulti(predictions.get(i), references.get(i)));
        }
        return mean(examples);
    }

    private static Result mean(List<Example> examples) {
        double[] sums = new double[Type.values().length];
        for (Example e : examples) {
            for (Type type : Type.values()) {
                sums[type.ordinal()] += e.get(type).f();
            }
        }
        int n = examples.size();
        return n == 0 ? new Result(0, 0, 0, 0)
                : new Result(sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n);
    }

    static PrecisionRecallF rougeN(List<String> pred, List<String> ref, int n) {
        Map<List<String>, Integer> refGrams = ngrams(ref, n);
        Map<List<String>, Integer> predGrams = ngrams(pred, n);
        int overlap = 0;
        for (Map.Entry<List<String>, Integer> e : refGrams.entrySet()) {
            overlap += Math.min(e.getValue(), predGrams.getOrDefault(e.getKey(), 0));
        }
        int predCount = Math.max(pred.size() - n + 1, 0);
        int refCount = Math.max(ref.size() - n + 1, 0);
        return PrecisionRecallF.of((double) overlap / Math.max(predCount, 1), (double) overlap / Math.max(refCount, 1));
    }

    static PrecisionRecallF rougeL(List<String> pred, List<String> ref) {
        if (pred.isEmpty() || ref.isEmpty()) {
            return PrecisionRecallF.ZERO;
        }
        int lcs = lcsTable(ref, pred)[ref.size()][pred.size()];
        return PrecisionRecallF.of((double) lcs / pred.size(), (double) lcs / ref.size());
    }

    static PrecisionRecallF rougeLsum(List<List<String>> predSentences, List<List<String>> refSentences) {
        if (predSentences.isEmpty() || refSentences.isEmpty()) {
            return PrecisionRecallF.ZERO;
        }
        int m = refSentences.stream().mapToInt(List::size).sum();
        int n = predSentences.stream().mapToInt(List::size).sum();
        if (m == 0 || n == 0) {
            return PrecisionRecallF.ZERO;
        }
        Map<String, Integer> refCounts = counts(refSentences);
        Map<String, Integer> predCounts = counts(predSentences);
        int hits = 0;
        for (List<String> r : refSentences) {
            // union over prediction sentences of the LCS token positions in r, in position order
            TreeSet<Integer> union = new TreeSet<>();
            for (List<String> c : predSentences) {
                union.addAll(lcsIndices(r, c));
            }
            for (int index : union) {
                String token = r.get(index);
                if (predCounts.getOrDefault(token, 0) > 0 && refCounts.getOrDefault(token, 0) > 0) {
                    hits++;
                    predCounts.merge(token, -1, Integer::sum);
                    refCounts.merge(token, -1, Integer::sum);
                }
            }
        }
        return PrecisionRecallF.of((double) hits / n, (double) hits / m);
    }

    /** Sentences of a summary for ROUGE-Lsum: split at '\n', empty strings dropped, each tokenised. */
    static List<List<String>> sentences(String text) {
        List<List<String>> sentences = new ArrayList<>();
        for (String s : text.split("\n", -1)) {
            if (!s.isEmpty()) {
                sentences.add(tokenize(s));
            }
        }
        return sentences;
    }

    private static Map<String, Integer> counts(List<List<String>> sentences) {
        Map<String, Integer> counts = new HashMap<>();
        for (List<String> s : sentences) {
            for (String t : s) {
                counts.merge(t, 1, Integer::sum);
            }
        }
        return counts;
    }

    private static Map<List<String>, Integer> ngrams(List<String> tokens, int n) {
        Map<List<String>, Integer> grams = new HashMap<>();
        for (int i = 0; i + n <= tokens.size(); i++) {
            grams.merge(List.copyOf(tokens.subList(i, i + n)), 1, Integer::sum);
        }
        return grams;
    }

    /** {@code t[i][j]} = LCS length of {@code ref[0..i)} and {@code can[0..j)}. */
    static int[][] lcsTable(List<String> ref, List<String> can) {
        int[][] t = new int[ref.size() + 1][can.size() + 1];
        for (int i = 1; i <= ref.size(); i++) {
            for (int j = 1; j <= can.size(); j++) {
                t[i][j] = ref.get(i - 1).equals(can.get(j - 1))
                        ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
            }
        }
        return t;
    }

    /**
     * The positions in {@code ref} of one LCS of {@code ref} and {@code can}, read back from the table the way
     * {@code rouge_score}'s {@code _backtrack_norec} does (on a tie, step back in {@code ref}); which LCS is chosen
     * matters for ROUGE-Lsum's union.
     */
    static List<Integer> lcsIndices(List<String> ref, List<String> can) {
        int[][] t = lcsTable(ref, can);
        int i = ref.size();
        int j = can.size();
        Integer[] reversed = new Integer[t[i][j]];
        int k = 0;
        while (i > 0 && j > 0) {
            if (ref.get(i - 1).equals(can.get(j - 1))) {
                reversed[k++] = i - 1;
                i--;
                j--;
            } else if (t[i][j - 1] > t[i - 1][j]) {
                j--;
            } else {
                i--;
            }
        }
        List<Integer> indices = new ArrayList<>(Arrays.asList(reversed));
        Collections.reverse(indices);
        return indices;
    }
}
