package org.ssmpeft.runtime.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * BLEU (Papineni et al., 2002) as sacreBLEU 2.x computes it ({@code sacrebleu.metrics.BLEU}), so that a score and its
 * {@link #signature()} mean the same as sacreBLEU's.
 *
 * <p>Per segment, after sacreBLEU's preprocessing (optional lower-casing, {@code rstrip()}, the {@code 13a}
 * tokeniser, see {@link #tokenize13a(String)}) and a split on white space:
 * <ul>
 *   <li>clipped matches {@code m_n = Σ_g min(c_hyp(g), max_r c_r(g))} and totals {@code t_n = Σ_g c_hyp(g)} for
 *       n-grams g of order n = 1..4, each reference's counts merged by taking the maximum;</li>
 *   <li>the reference length r: the reference length closest to the hypothesis length c, the shorter on ties.</li>
 * </ul>
 * Corpus: sums {@code M_n, T_n, C = Σ c, R = Σ r}; precisions {@code p_n = 100·M_n/T_n};
 * brevity penalty {@code BP = 1} if {@code C ≥ R}, else {@code exp(1 − R/C)} (0 when C = 0);
 * {@code BLEU = BP · exp((1/N) Σ_{n ≤ N} log p_n)} on the 0-100 scale, 0 when no n-gram matches at all.
 *
 * <p>Smoothing ({@link Smoothing}), sacreBLEU's {@code smooth_method}: {@code exp} (the default; the k-th order with
 * no match gets {@code p_n = 100 / (2^k · T_n)}), {@code floor} ({@code 100·ε/T_n}, ε = 0.1), {@code add-k}
 * ({@code m_n + k, t_n + k} for n ≥ 2, k = 1) and {@code none}. A zero precision enters the log as
 * {@code -9999999999}, as sacreBLEU's {@code my_log}. Effective order (off by default, on for sentence BLEU): the mean
 * runs only over the orders up to the last one with {@code T_n > 0}, so a 3-word sentence is not scored 0.
 */
public final class Bleu {

    /** sacreBLEU's {@code smooth_method} values, with their default {@code smooth_value}. */
    public enum Smoothing {
        NONE("none", 0), FLOOR("floor", 0.1), ADD_K("add-k", 1), EXP("exp", 0);

        private final String id;
        private final double defaultValue;

        Smoothing(String id, double defaultValue) {
            this.id = id;
            this.defaultValue = defaultValue;
        }

        /** The name sacreBLEU's signature writes. */
        public String id() {
            return id;
        }

        public double defaultValue() {
            return defaultValue;
        }
    }

    /**
     * One BLEU score with its statistics, like sacreBLEU's {@code BLEUScore}.
     *
     * @param score      BLEU on the 0-100 scale
     * @param counts     matched n-grams {@code M_n}, n = 1..N
     * @param totals     hypothesis n-grams {@code T_n}
     * @param precisions {@code p_n} in percent, smoothed as configured
     * @param bp         brevity penalty
     * @param sysLen     hypothesis tokens C
     * @param refLen     effective reference tokens R
     */
    public record Result(double score, long[] counts, long[] totals, double[] precisions, double bp, long sysLen,
                         long refLen) {

        public Result {
            counts = counts.clone();
            totals = totals.clone();
            precisions = precisions.clone();
        }

        @Override
        public long[] counts() {
            return counts.clone();
        }

        @Override
        public long[] totals() {
            return totals.clone();
        }

        @Override
        public double[] precisions() {
            return precisions.clone();
        }

        /** BLEU as a fraction in [0, 1] under the key {@code bleu}, for a training loop. */
        public Score toScore() {
            return Score.of("bleu", score / 100.0);
        }

        /**
         * sacreBLEU's one-line format, e.g.
         * {@code BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)}.
         */
        public String format() {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "BLEU = %.2f ", score));
            for (int n = 0; n < precisions.length; n++) {
                sb.append(n == 0 ? "" : "/").append(String.format(Locale.ROOT, "%.1f", precisions[n]));
            }
            double ratio = refLen == 0 ? 0.0 : (double) sysLen / refLen;
            sb.append(String.format(Locale.ROOT, " (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)", bp, ratio,
                    sysLen, refLen));
            return sb.toString();
        }

        @Override
        public String toString() {
            return format();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Result r && Double.compare(score, r.score) == 0 && Arrays.equals(counts, r.counts)
                    && Arrays.equals(totals, r.totals) && Arrays.equals(precisions, r.precisions)
                    && Double.compare(bp, r.bp) == 0 && sysLen == r.sysLen && refLen == r.refLen;
        }

        @Override
        public int hashCode() {
            return Double.hashCode(score) * 31 + Arrays.hashCode(counts);
        }
    }

    /** The largest n-gram order, sacreBLEU's {@code max_ngram_order} default. */
    public static final int MAX_ORDER = 4;

    private static final double LOG_ZERO = -9999999999.0;

    private final Smoothing smoothing;
    private final double smoothValue;
    private final boolean effectiveOrder;
    private final boolean lowercase;
    private final int maxOrder;

    private Bleu(Smoothing smoothing, double smoothValue, boolean effectiveOrder, boolean lowercase, int maxOrder) {
        if (maxOrder < 1) {
            throw new IllegalArgumentException("BLEU needs n-gram order >= 1, got " + maxOrder);
        }
        this.smoothing = smoothing;
        this.smoothValue = smoothValue;
        this.effectiveOrder = effectiveOrder;
        this.lowercase = lowercase;
        this.maxOrder = maxOrder;
    }

    /** sacreBLEU's {@code BLEU()} defaults: 13a, case-sensitive, exp smoothing, no effective order, n ≤ 4. */
    public static Bleu corpus() {
        return new Bleu(Smoothing.EXP, 0, false, false, MAX_ORDER);
    }

    /** sacreBLEU's {@code sentence_bleu} defaults: exp smoothing with effective order. */
    public static Bleu sentence() {
        return new Bleu(Smoothing.EXP, 0, true, false, MAX_ORDER);
    }

    public Bleu withSmoothing(Smoothing method) {
        return new Bleu(method, method.defaultValue(), effectiveOrder, lowercase, maxOrder);
    }

    /** Smoothing with an explicit {@code smooth_value} (used by {@code floor} and {@code add-k}). */
    public Bleu withSmoothing(Smoothing method, double value) {
        return new Bleu(method, value, effectiveOrder, lowercase, maxOrder);
    }

    public Bleu withEffectiveOrder(boolean on) {
        return new Bleu(smoothing, smoothValue, on, lowercase, maxOrder);
    }

    /** sacreBLEU's {@code -lc}: lower-case hypotheses and references before tokenising. */
    public Bleu withLowercase(boolean on) {
        return new Bleu(smoothing, smoothValue, effectiveOrder, on, maxOrder);
    }

    public Bleu withMaxOrder(int order) {
        return new Bleu(smoothing, smoothValue, effectiveOrder, lowercase, order);
    }

    /**
     * Corpus BLEU. {@code references.get(i)} holds the references of hypothesis i (any number ≥ 1; sacreBLEU's
     * reference streams transposed, with its {@code None} entries left out).
     */
    public Result corpusScore(List<String> hypotheses, List<? extends List<String>> references) {
        Inputs.sameSize(hypotheses, references, "hypotheses", "references");
        long[] counts = new long[maxOrder];
        long[] totals = new long[maxOrder];
        long sysLen = 0;
        long refLen = 0;
        for (int i = 0; i < hypotheses.size(); i++) {
            List<String> refs = references.get(i);
            if (refs.isEmpty()) {
                throw new IllegalArgumentException("hypothesis " + i + " has no reference; give it at least one");
            }
            List<String> hyp = words(hypotheses.get(i));
            Map<List<String>, Integer> refGrams = new HashMap<>();
            int[] refLens = new int[refs.size()];
            for (int r = 0; r < refs.size(); r++) {
                List<String> ref = words(refs.get(r));
                refLens[r] = ref.size();
                ngrams(ref).forEach((g, c) -> refGrams.merge(g, c, Math::max));
            }
            for (Map.Entry<List<String>, Integer> e : ngrams(hyp).entrySet()) {
                int n = e.getKey().size() - 1;
                totals[n] += e.getValue();
                counts[n] += Math.min(e.getValue(), refGrams.getOrDefault(e.getKey(), 0));
            }
            sysLen += hyp.size();
            refLen += closestRefLength(hyp.size(), refLens);
        }
        return compute(counts, totals, sysLen, refLen);
    }

    /** Corpus BLEU with one reference per hypothesis. */
    public Result corpusScoreSingle(List<String> hypotheses, List<String> references) {
        Inputs.sameSize(hypotheses, references, "hypotheses", "references");
        return corpusScore(hypotheses, references.stream().map(List::of).toList());
    }

    /** BLEU of one hypothesis (use {@link #sentence()} for sacreBLEU's sentence defaults). */
    public Result sentenceScore(String hypothesis, List<String> references) {
        return corpusScore(List.of(hypothesis), List.of(references));
    }

    /**
     * BLEU as HF {@code evaluate.load("bleu")} computes it, the number the paper reports for DART (paper.md §10); not
     * sacreBLEU. Same 13a tokens (without the {@code rstrip}) and the same clipped counts as {@link #corpusScore}, but
     * the reference length is the <em>shortest</em> reference of each example (TensorFlow NMT's {@code compute_bleu}),
     * no smoothing: {@code BLEU = BP · exp((1/4) Σ_n log(M_n/T_n))}, 0 when any {@code M_n = 0};
     * {@code BP = exp(1 − R/C)} when {@code C ≤ R}, else 1. A fraction in [0, 1]; 0 where {@code evaluate} would
     * divide by zero (no hypothesis or no reference tokens).
     */
    public static double evaluateBleu(List<String> predictions, List<? extends List<String>> references) {
        Inputs.sameSize(predictions, references, "predictions", "references");
        long[] matches = new long[MAX_ORDER];
        long[] possible = new long[MAX_ORDER];
        long translationLength = 0;
        long referenceLength = 0;
        Bleu counter = corpus();
        for (int i = 0; i < predictions.size(); i++) {
            List<String> refs = references.get(i);
            if (refs.isEmpty()) {
                throw new IllegalArgumentException("prediction " + i + " has no reference; give it at least one");
            }
            List<String> hyp = splitWhitespace(tokenize13a(predictions.get(i)));
            Map<List<String>, Integer> refGrams = new HashMap<>();
            int shortest = Integer.MAX_VALUE;
            for (String r : refs) {
                List<String> ref = splitWhitespace(tokenize13a(r));
                shortest = Math.min(shortest, ref.size());
                counter.ngrams(ref).forEach((g, c) -> refGrams.merge(g, c, Math::max));
            }
            for (Map.Entry<List<String>, Integer> e : counter.ngrams(hyp).entrySet()) {
                int n = e.getKey().size() - 1;
                possible[n] += e.getValue();
                matches[n] += Math.min(e.getValue(), refGrams.getOrDefault(e.getKey(), 0));
            }
            translationLength += hyp.size();
            referenceLength += shortest;
        }
        double logSum = 0;
        for (int n = 0; n < MAX_ORDER; n++) {
            if (matches[n] == 0) {
                return 0.0;
            }
            logSum += Math.log((double) matches[n] / possible[n]) / MAX_ORDER;
        }
        if (translationLength == 0 || referenceLength == 0) {
            return 0.0;
        }
        double ratio = (double) translationLength / referenceLength;
        double bp = ratio > 1.0 ? 1.0 : Math.exp(1 - 1 / ratio);
        return Math.exp(logSum) * bp;
    }

    /** sacreBLEU's {@code compute_bleu} on summed statistics. */
    Result compute(long[] counts, long[] totals, long sysLen, long refLen) {
        double bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - (double) refLen / sysLen) : 0.0) : 1.0;
        double[] precisions = new double[maxOrder];
        if (Arrays.stream(counts).allMatch(c -> c == 0)) {
            return new Result(0.0, counts, totals, precisions, bp, sysLen, refLen);
        }
        double[] correct = Arrays.stream(counts).asDoubleStream().toArray();
        double[] total = Arrays.stream(totals).asDoubleStream().toArray();
        double smoothMteval = 1.0;
        int order = maxOrder;
        for (int n = 1; n <= maxOrder; n++) {
            if (smoothing == Smoothing.ADD_K && n > 1) {
                correct[n - 1] += smoothValue;
                total[n - 1] += smoothValue;
            }
            if (total[n - 1] == 0) {
                break;
            }
            if (effectiveOrder) {
                order = n;
            }
            if (correct[n - 1] == 0) {
                if (smoothing == Smoothing.EXP) {
                    smoothMteval *= 2;
                    precisions[n - 1] = 100.0 / (smoothMteval * total[n - 1]);
                } else if (smoothing == Smoothing.FLOOR) {
                    precisions[n - 1] = 100.0 * smoothValue / total[n - 1];
                }
            } else {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }
        double logSum = 0;
        for (int n = 0; n < order; n++) {
            logSum += precisions[n] == 0.0 ? LOG_ZERO : Math.log(precisions[n]);
        }
        return new Result(bp * Math.exp(logSum / order), counts, totals, precisions, bp, sysLen, refLen);
    }

    /**
     * A sacreBLEU-style signature, e.g. {@code nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:ssm-peft}; the
     * version field names this implementation, not a sacreBLEU release. {@code nrefs} is given by the caller
     * (sacreBLEU writes {@code var} when it varies across segments).
     */
    public String signature(String nrefs) {
        StringBuilder sb = new StringBuilder("nrefs:").append(nrefs)
                .append("|case:").append(lowercase ? "lc" : "mixed")
                .append("|eff:").append(effectiveOrder ? "yes" : "no")
                .append("|tok:13a|smooth:").append(smoothing.id());
        if (smoothing == Smoothing.FLOOR || smoothing == Smoothing.ADD_K) {
            sb.append('[').append(String.format(Locale.ROOT, "%.2f", smoothValue)).append(']');
        }
        if (maxOrder != MAX_ORDER) {
            sb.append("|ngram:").append(maxOrder);
        }
        return sb.append("|version:ssm-peft").toString();
    }

    /** {@link #signature(String)} with one reference per segment. */
    public String signature() {
        return signature("1");
    }

    // ---- tokenisation --------------------------------------------------------------------------------------------

    /** sacreBLEU's segment preprocessing: lower-case if asked, {@code rstrip()}, 13a, split on white space. */
    List<String> words(String segment) {
        String s = lowercase ? segment.toLowerCase(Locale.ROOT) : segment;
        return splitWhitespace(tokenize13a(rstrip(s)));
    }

    // mteval-v13a.pl's language-dependent rules, in order:
    //   s/([\{-\~\[-\` -\&\(-\+\:-\@\/])/ $1 /g   punctuation and symbols: { | } ~ [ \ ] ^ _ ` space ! " # $ % &
    //                                             ( ) * + : ; < = > ? @ /   (not ' - . ,)
    //   s/([^0-9])([\.,])/$1 $2 /g                 period and comma unless preceded by a digit
    //   s/([\.,])([^0-9])/ $1 $2/g                 period and comma unless followed by a digit
    //   s/([0-9])(-)/$1 $2 /g                      dash when preceded by a digit
    private static final Pattern PUNCTUATION = Pattern.compile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])");
    private static final Pattern PERIOD_COMMA_AFTER_NON_DIGIT = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE_NON_DIGIT = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern DASH_AFTER_DIGIT = Pattern.compile("([0-9])(-)");

    /**
     * sacreBLEU's {@code Tokenizer13a}: remove {@code <skipped>}, join {@code "-\n"}, newlines to spaces, unescape
     * {@code &quot; &amp; &lt; &gt;}, pad with a space on each side, apply the four mteval-v13a rules, and join the
     * white-space separated tokens with single spaces.
     */
    public static String tokenize13a(String line) {
        String s = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
        if (s.indexOf('&') >= 0) {
            s = s.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
        }
        s = " " + s + " ";
        s = PUNCTUATION.matcher(s).replaceAll(" $1 ");
        s = PERIOD_COMMA_AFTER_NON_DIGIT.matcher(s).replaceAll("$1 $2 ");
        s = PERIOD_COMMA_BEFORE_NON_DIGIT.matcher(s).replaceAll(" $1 $2");
        s = DASH_AFTER_DIGIT.matcher(s).replaceAll("$1 $2 ");
        return String.join(" ", splitWhitespace(s));
    }

    /** Python's {@code str.split()}: runs of white space (Python's {@code isspace}) separate, no empty tokens. */
    static List<String> splitWhitespace(String s) {
        List<String> tokens = new ArrayList<>();
        int start = -1;
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (isPythonSpace(cp)) {
                if (start >= 0) {
                    tokens.add(s.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) {
            tokens.add(s.substring(start));
        }
        return tokens;
    }

    /** Python's {@code str.rstrip()}. */
    static String rstrip(String s) {
        int end = s.length();
        while (end > 0) {
            int cp = s.codePointBefore(end);
            if (!isPythonSpace(cp)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return s.substring(0, end);
    }

    /**
     * Python's {@code str.isspace()} for one code point: Unicode separators (Zs, Zl, Zp, including no-break spaces),
     * the ASCII controls \t \n \u000B \f \r, the information separators U+001C..U+001F, and U+0085.
     */
    static boolean isPythonSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    private Map<List<String>, Integer> ngrams(List<String> tokens) {
        Map<List<String>, Integer> grams = new HashMap<>();
        for (int n = 1; n <= maxOrder; n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                grams.merge(List.copyOf(tokens.subList(i, i + n)), 1, Integer::sum);
            }
        }
        return grams;
    }

    /** sacreBLEU's {@code _get_closest_ref_len}: the reference length nearest to c, the shorter one on ties. */
    static int closestRefLength(int hypLength, int[] refLengths) {
        int closestDiff = -1;
        int closest = -1;
        for (int r : refLengths) {
            int diff = Math.abs(hypLength - r);
            if (closestDiff == -1 || diff < closestDiff) {
                closestDiff = diff;
                closest = r;
            } else if (diff == closestDiff && r < closest) {
                closest = r;
            }
        }
        return closest;
    }

    @Override
    public String toString() {
        return "Bleu[" + signature() + "]";
    }
}
