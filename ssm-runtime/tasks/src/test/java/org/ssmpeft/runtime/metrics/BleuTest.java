package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class BleuTest {

    private static final double EPS = 1e-9;

    @Test
    void sacreBleusReadmeExample() {
        // sacreBLEU README, two reference streams:
        //   BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
        // By hand: 13a tokens 6 + 4 + 7 = 17 ("It wasn't surprising ." keeps the apostrophe); closest refs 6, 5, 7 = 18
        // 1-grams 6/6 + 2/4 + 6/7 = 14/17; 2-grams 5/5 + 0/3 + 2/6 = 7/14; 3-grams 4/4 + 0/2 + 1/5 = 5/11;
        // 4-grams 3/3 + 0/1 + 0/4 = 3/8; BP = exp(1 − 18/17)
        List<String> sys = List.of("The dog bit the man.", "It wasn't surprising.", "The man had just bitten him.");
        List<List<String>> refs = List.of(
                List.of("The dog bit the man.", "The dog had bit the man."),
                List.of("It was not unexpected.", "No one was surprised."),
                List.of("The man bit him first.", "The man had bitten the dog."));
        Bleu.Result r = Bleu.corpus().corpusScore(sys, refs);
        assertThat(r.counts()).containsExactly(14, 7, 5, 3);
        assertThat(r.totals()).containsExactly(17, 14, 11, 8);
        assertThat(r.sysLen()).isEqualTo(17);
        assertThat(r.refLen()).isEqualTo(18);
        double expected = Math.exp(1 - 18.0 / 17) * Math.exp((Math.log(1400.0 / 17) + Math.log(50)
                + Math.log(500.0 / 11) + Math.log(37.5)) / 4);
        assertThat(r.score()).isCloseTo(expected, within(EPS)).isCloseTo(48.53, within(0.005));
        assertThat(r.format())
                .isEqualTo("BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
        assertThat(Bleu.corpus().signature("2"))
                .isEqualTo("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:ssm-peft");
    }

    @Test
    void oneSentenceWithExpSmoothing() {
        // hyp "the cat sat on the mat", ref "the cat is on the mat", 6 tokens each, BP = 1
        // 1-grams: the×2 cat on mat match, sat not: 5/6; 2-grams: the cat, on the, the mat: 3/5;
        // 3-grams: on the mat: 1/4; 4-grams: 0/3 -> exp smoothing p4 = 100 / (2·3)
        // BLEU = (83.33 · 60 · 25 · 16.67)^(1/4) = 37.9918
        Bleu.Result r = Bleu.corpus().corpusScoreSingle(List.of("the cat sat on the mat"),
                List.of("the cat is on the mat"));
        assertThat(r.counts()).containsExactly(5, 3, 1, 0);
        assertThat(r.totals()).containsExactly(6, 5, 4, 3);
        assertThat(r.precisions()[3]).isCloseTo(100.0 / 6, within(EPS));
        assertThat(r.bp()).isEqualTo(1.0);
        assertThat(r.score()).isCloseTo(Math.pow(500.0 / 6 * 60 * 25 * 100.0 / 6, 0.25), within(EPS))
                .isCloseTo(37.9918, within(1e-4));
    }

    @Test
    void otherSmoothingMethods() {
        List<String> hyp = List.of("the cat sat on the mat");
        List<String> ref = List.of("the cat is on the mat");
        // none: p4 = 0 enters the log as -9999999999 -> 0
        assertThat(Bleu.corpus().withSmoothing(Bleu.Smoothing.NONE).corpusScoreSingle(hyp, ref).score()).isZero();
        // floor (0.1): p4 = 100 · 0.1 / 3
        assertThat(Bleu.corpus().withSmoothing(Bleu.Smoothing.FLOOR).corpusScoreSingle(hyp, ref).score())
                .isCloseTo(Math.pow(500.0 / 6 * 60 * 25 * 10.0 / 3, 0.25), within(EPS));
        // add-k (1) from n = 2: (3+1)/(5+1), (1+1)/(4+1), (0+1)/(3+1)
        assertThat(Bleu.corpus().withSmoothing(Bleu.Smoothing.ADD_K).corpusScoreSingle(hyp, ref).score())
                .isCloseTo(Math.pow(500.0 / 6 * 400.0 / 6 * 40 * 25, 0.25), within(EPS));
        assertThat(Bleu.corpus().withSmoothing(Bleu.Smoothing.FLOOR).signature())
                .isEqualTo("nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:ssm-peft");
    }

    @Test
    void referenceCountsAreClippedAtTheMaximumOverReferences() {
        // hyp "the the the the", refs "the cat" and "the the dog": max count of "the" = 2 -> p1 = 2/4;
        // "the the" ×3 vs max 1 -> 1/3; 3-grams 0/2 -> 100/(2·2); 4-grams 0/1 -> 100/(4·1)
        // closest ref length to 4 among 2 and 3 is 3: BP = 1; BLEU = (50 · 33.33 · 25 · 25)^(1/4) = 31.9472
        Bleu.Result r = Bleu.corpus().sentenceScore("the the the the", List.of("the cat", "the the dog"));
        assertThat(r.counts()).containsExactly(2, 1, 0, 0);
        assertThat(r.refLen()).isEqualTo(3);
        assertThat(r.score()).isCloseTo(Math.pow(50 * 100.0 / 3 * 25 * 25, 0.25), within(EPS))
                .isCloseTo(31.9472, within(1e-4));
    }

    @Test
    void brevityPenaltyWithTheClosestReference() {
        // hyp "the cat" (2), refs of 6 and 3 tokens: r = 3, BP = exp(1 − 3/2) = 0.60653
        // corpus defaults: T3 = 0 stops the loop with p3 = p4 = 0 -> BLEU 0;
        // sentence defaults (effective order 2): BP · exp((log 100 + log 100)/2) = 60.653
        List<String> refs = List.of("the cat sat on the mat", "the cat sat");
        Bleu.Result corpus = Bleu.corpus().sentenceScore("the cat", refs);
        assertThat(corpus.bp()).isCloseTo(Math.exp(-0.5), within(EPS));
        assertThat(corpus.score()).isZero();
        assertThat(corpus.format())
                .isEqualTo("BLEU = 0.00 100.0/100.0/0.0/0.0 (BP = 0.607 ratio = 0.667 hyp_len = 2 ref_len = 3)");
        assertThat(Bleu.sentence().sentenceScore("the cat", refs).score())
                .isCloseTo(100 * Math.exp(-0.5), within(EPS));
        assertThat(Bleu.sentence().signature()).contains("|eff:yes|");
    }

    @Test
    void tiesBetweenReferenceLengthsGoToTheShorter() {
        assertThat(Bleu.closestRefLength(4, new int[] {5, 3})).isEqualTo(3);
        assertThat(Bleu.closestRefLength(4, new int[] {3, 5})).isEqualTo(3);
        assertThat(Bleu.closestRefLength(4, new int[] {9, 5, 2})).isEqualTo(5);
    }

    @Test
    void tokenizer13aFollowsMtevalRules() {
        assertThat(Bleu.tokenize13a("Hello, world!")).isEqualTo("Hello , world !");
        // period and comma stay inside numbers
        assertThat(Bleu.tokenize13a("3.14 and 1,000.")).isEqualTo("3.14 and 1,000 .");
        // dash split only after a digit; apostrophes stay
        assertThat(Bleu.tokenize13a("1990-2000 well-known don't")).isEqualTo("1990 - 2000 well-known don't");
        assertThat(Bleu.tokenize13a("e.g. U.S.")).isEqualTo("e . g . U . S .");
        assertThat(Bleu.tokenize13a("(a) [b] {c} $5 @x #y a/b x+y=z ~^_`|\\"))
                .isEqualTo("( a ) [ b ] { c } $ 5 @ x # y a / b x + y = z ~ ^ _ ` | \\");
        // entity unescaping, <skipped>, a hyphen at a line break joins, other newlines are spaces
        assertThat(Bleu.tokenize13a("&quot;q&quot; &amp; &lt;b&gt;")).isEqualTo("\" q \" & < b >");
        assertThat(Bleu.tokenize13a("a <skipped> pre-\nfix\nnext")).isEqualTo("a prefix next");
    }

    @Test
    void tokenizer13aLeavesNonAsciiAlone() {
        assertThat(Bleu.tokenize13a("Grüße, naïve café.")).isEqualTo("Grüße , naïve café .");
        assertThat(Bleu.tokenize13a("日本語。")).isEqualTo("日本語。");
        // Python's str.split() splits at a no-break space too
        assertThat(Bleu.splitWhitespace("a\u00a0b\u3000c")).containsExactly("a", "b", "c");
    }

    @Test
    void caseSensitiveByDefault() {
        assertThat(Bleu.sentence().sentenceScore("The Cat", List.of("the cat")).score()).isZero();
        assertThat(Bleu.sentence().withLowercase(true).sentenceScore("The Cat", List.of("the cat")).score())
                .isCloseTo(100.0, within(EPS));
        assertThat(Bleu.corpus().withLowercase(true).signature()).contains("|case:lc|");
    }

    @Test
    void emptyHypothesesAndCorpus() {
        Bleu.Result empty = Bleu.corpus().sentenceScore("", List.of("a b"));
        assertThat(empty.score()).isZero();
        assertThat(empty.bp()).isZero();
        assertThat(Bleu.corpus().corpusScore(List.of(), List.of()).score()).isZero();
        // an empty reference is a reference of length 0
        assertThat(Bleu.sentence().sentenceScore("a b", List.of("")).score()).isZero();
        assertThatThrownBy(() -> Bleu.corpus().corpusScore(List.of("a"), List.of(List.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no reference");
    }

    @Test
    void trailingWhitespaceIsStrippedBeforeTokenising() {
        assertThat(Bleu.corpus().words("a b \n\t")).containsExactly("a", "b");
        assertThat(Bleu.rstrip("x \u00a0")).isEqualTo("x");
    }

    @Test
    void aPerfectMatchScoresOneHundred() {
        Bleu.Result r = Bleu.corpus().corpusScoreSingle(List.of("a b c d e ."), List.of("a b c d e."));
        assertThat(r.score()).isCloseTo(100.0, within(EPS));
        assertThat(r.toScore().value()).isCloseTo(1.0, within(EPS));
        assertThat(r.toScore().name()).isEqualTo("bleu");
    }

    @Test
    void evaluatesBleuUsesTheShortestReferenceAndNoSmoothing() {
        // the README example under HF evaluate's "bleu": same counts, shortest refs 6 + 5 + 6 = 17 = C -> BP = 1;
        // geometric mean of 14/17, 7/14, 5/11, 3/8 = 0.514706...
        List<String> sys = List.of("The dog bit the man.", "It wasn't surprising.", "The man had just bitten him.");
        List<List<String>> refs = List.of(
                List.of("The dog bit the man.", "The dog had bit the man."),
                List.of("It was not unexpected.", "No one was surprised."),
                List.of("The man bit him first.", "The man had bitten the dog."));
        double expected = Math.pow(14.0 / 17 * 7 / 14 * 5 / 11 * 3 / 8, 0.25);
        assertThat(Bleu.evaluateBleu(sys, refs)).isCloseTo(expected, within(EPS));
        // shortest reference 3 for hyp "a b" -> BP = exp(1 − 3/2); but no 3-gram -> 0 without smoothing
        assertThat(Bleu.evaluateBleu(List.of("a b"), List.of(List.of("a b c", "a b c d")))).isZero();
        // "the cat sat on the mat" vs "the cat is on the mat": no 4-gram match -> 0 (sacreBLEU: 37.99)
        assertThat(Bleu.evaluateBleu(List.of("the cat sat on the mat"), List.of(List.of("the cat is on the mat"))))
                .isZero();
        // hyp 5 tokens, refs 6 and 5: shortest 5 -> BP 1, perfect -> 1.0; sacreBLEU picks 5 as well
        assertThat(Bleu.evaluateBleu(List.of("a b c d e"), List.of(List.of("a b c d e f", "a b c d e"))))
                .isCloseTo(1.0, within(EPS));
        // hyp "a b c d e" with refs "a b c d e x" (6) and "a b c d e x y z" (8): R = 6, BP = exp(1 − 6/5)
        assertThat(Bleu.evaluateBleu(List.of("a b c d e"), List.of(List.of("a b c d e x y z", "a b c d e x"))))
                .isCloseTo(Math.exp(1 - 6.0 / 5), within(EPS));
        assertThat(Bleu.evaluateBleu(List.of(), List.of())).isZero();
    }
}
