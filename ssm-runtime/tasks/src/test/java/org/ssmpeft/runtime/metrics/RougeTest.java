package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class RougeTest {

    private static final double EPS = 1e-12;

    @Test
    void tokensAreLowerCasedAlphanumericRuns() {
        assertThat(Rouge.tokenize("Hello, World! It's 3.5%")).containsExactly("hello", "world", "it", "s", "3", "5");
    }

    @Test
    void nonAsciiLettersSeparateTokensAsInRougeScore() {
        // rouge_score replaces everything outside [a-z0-9] after lower-casing: "café" -> "caf", "naïve" -> "na ve"
        assertThat(Rouge.tokenize("Café naïve ÀB")).containsExactly("caf", "na", "ve", "b");
        assertThat(Rouge.tokenize("日本語")).isEmpty();
    }

    @Test
    void oneWordDifference() {
        // pred: the cat sat on the mat; ref: the cat was on the mat (6 tokens each)
        // ROUGE-1: ref counts the×2 cat was on mat; clipped overlap 2+1+0+1+1 = 5 -> P = R = F = 5/6
        // ROUGE-2: ref bigrams {the cat, cat was, was on, on the, the mat}; pred shares the cat, on the, the mat -> 3/5
        // ROUGE-L: LCS "the cat on the mat" = 5 -> 5/6; one line, so ROUGE-Lsum = ROUGE-L
        Rouge.Example e = Rouge.score("the cat sat on the mat", "the cat was on the mat");
        assertThat(e.rouge1().f()).isCloseTo(5.0 / 6, within(EPS));
        assertThat(e.rouge2().precision()).isCloseTo(0.6, within(EPS));
        assertThat(e.rouge2().recall()).isCloseTo(0.6, within(EPS));
        assertThat(e.rougeL().f()).isCloseTo(5.0 / 6, within(EPS));
        assertThat(e.rougeLsum().f()).isCloseTo(5.0 / 6, within(EPS));
    }

    @Test
    void linsRougeLExample() {
        // Lin (2004) §3.1: reference "police killed the gunman"; S2 "police kill the gunman" has ROUGE-L 3/4,
        // S3 "the gunman kill police" 2/4, although both share one bigram ("the gunman") with the reference
        String ref = "police killed the gunman";
        Rouge.Example s2 = Rouge.score("police kill the gunman", ref);
        Rouge.Example s3 = Rouge.score("the gunman kill police", ref);
        assertThat(s2.rougeL().f()).isCloseTo(0.75, within(EPS));
        assertThat(s3.rougeL().f()).isCloseTo(0.5, within(EPS));
        // ROUGE-2: 1 of 3 bigrams on both sides
        assertThat(s2.rouge2().f()).isCloseTo(1.0 / 3, within(EPS));
        assertThat(s3.rouge2().f()).isCloseTo(1.0 / 3, within(EPS));
        // ROUGE-1: police, the, gunman = 3/4
        assertThat(s3.rouge1().f()).isCloseTo(0.75, within(EPS));
    }

    @Test
    void precisionAndRecallDifferWithLength() {
        // pred a b c d e (5), ref a x c (3): unigram overlap 2 -> P = 2/5, R = 2/3, F = 2PR/(P+R) = 2·2/(5+3) = 0.5
        // no shared bigram; LCS "a c" = 2 gives the same as ROUGE-1
        Rouge.Example e = Rouge.score("a b c d e", "a x c");
        assertThat(e.rouge1().precision()).isCloseTo(0.4, within(EPS));
        assertThat(e.rouge1().recall()).isCloseTo(2.0 / 3, within(EPS));
        assertThat(e.rouge1().f()).isCloseTo(0.5, within(EPS));
        assertThat(e.rouge2().f()).isZero();
        assertThat(e.rougeL().f()).isCloseTo(0.5, within(EPS));
    }

    @Test
    void summaryLevelLcsTakesTheUnionOverSentences() {
        // ref sentences r1 = the cat sat, r2 = the dog ran; pred c1 = the dog sat, c2 = the cat ran (m = n = 6)
        // r1: LCS with c1 = {the, sat}, with c2 = {the, cat}; union = the cat sat -> 3 hits
        // r2: LCS with c1 = {the, dog}, with c2 = {the, ran}; union = the dog ran -> 3 hits (the: 2nd of 2)
        // ROUGE-Lsum P = R = 6/6 = 1; on the joined text ROUGE-L finds LCS "the sat the ran" = 4 -> 4/6
        Rouge.Example e = Rouge.score("the dog sat\nthe cat ran", "the cat sat\nthe dog ran");
        assertThat(e.rougeLsum().f()).isCloseTo(1.0, within(EPS));
        assertThat(e.rougeL().f()).isCloseTo(4.0 / 6, within(EPS));
    }

    @Test
    void summaryLevelLcsDoesNotCountATokenTwice() {
        // pred "a b" twice (n = 4), ref "a b" (m = 2): the union for r1 is {a, b}: 2 hits -> P = 2/4, R = 2/2, F = 2/3
        Rouge.Example e = Rouge.score("a b\na b", "a b");
        assertThat(e.rougeLsum().precision()).isCloseTo(0.5, within(EPS));
        assertThat(e.rougeLsum().recall()).isCloseTo(1.0, within(EPS));
        assertThat(e.rougeLsum().f()).isCloseTo(2.0 / 3, within(EPS));
        // ref "a b" twice (m = 4), pred "a b" (n = 2): r2's union {a, b} finds the prediction's tokens used up
        // -> 2 hits, P = 1, R = 1/2 (without the guard it would be 4 hits and P = 2)
        Rouge.Example reversed = Rouge.score("a b", "a b\na b");
        assertThat(reversed.rougeLsum().precision()).isCloseTo(1.0, within(EPS));
        assertThat(reversed.rougeLsum().recall()).isCloseTo(0.5, within(EPS));
    }

    @Test
    void theBestReferenceIsChosenPerType() {
        // refs "a dog" (F = 0 everywhere) and "the cat sat": ROUGE-1 P = 2/2, R = 2/3, F = 0.8;
        // ROUGE-2 shares "the cat": P = 1/1, R = 1/2, F = 2/3
        Rouge.Example e = Rouge.scoreMulti("the cat", List.of("a dog", "the cat sat"));
        assertThat(e.rouge1().f()).isCloseTo(0.8, within(EPS));
        assertThat(e.rouge2().f()).isCloseTo(2.0 / 3, within(EPS));
    }

    @Test
    void corpusScoreIsTheMeanOfExampleF() {
        // ROUGE-1 F: 5/6 (first pair) and 3/4 (police kill the gunman) -> mean 19/24
        Rouge.Result r = Rouge.corpus(List.of("the cat sat on the mat", "police kill the gunman"),
                List.of("the cat was on the mat", "police killed the gunman"));
        assertThat(r.rouge1()).isCloseTo((5.0 / 6 + 0.75) / 2, within(EPS));
        assertThat(r.toScores()).extracting(Score::name).containsExactly("rouge1", "rouge2", "rougeL", "rougeLsum");
        Rouge.Result multi = Rouge.corpusMulti(List.of("the cat sat on the mat"),
                List.of(List.of("x", "the cat was on the mat")));
        assertThat(multi.rougeL()).isCloseTo(5.0 / 6, within(EPS));
    }

    @Test
    void emptyTextsScoreZero() {
        Rouge.Example emptyPrediction = Rouge.score("", "the cat");
        Rouge.Example punctuationOnly = Rouge.score("!!! ...", "the cat");
        Rouge.Example emptyReference = Rouge.score("the cat", "");
        for (Rouge.Example e : List.of(emptyPrediction, punctuationOnly, emptyReference)) {
            for (Rouge.Type type : Rouge.Type.values()) {
                assertThat(e.get(type)).isEqualTo(Rouge.PrecisionRecallF.ZERO);
            }
        }
        assertThat(Rouge.corpus(List.of(), List.of())).isEqualTo(new Rouge.Result(0, 0, 0, 0));
    }

    @Test
    void lcsIsReadBackAsRougeScoreDoes() {
        // ref [a, b], can [b, a]: the table ties at the end, rouge_score steps back in ref -> keeps ref's "a" (0)
        assertThat(Rouge.lcsIndices(List.of("a", "b"), List.of("b", "a"))).containsExactly(0);
        assertThat(Rouge.lcsIndices(List.of("a", "b", "c", "d"), List.of("a", "c", "d"))).containsExactly(0, 2, 3);
    }
}
