package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExactMatchTest {

    @Test
    void defaultIsStrictEquality() {
        assertThat(ExactMatch.exact().normalisations()).isEmpty();
        assertThat(ExactMatch.exact().score(List.of("Hello  World ", "abc"), List.of("hello world", "abc")))
                .isEqualTo(0.5);
    }

    @Test
    void lenientTrimsCollapsesAndLowerCases() {
        assertThat(ExactMatch.lenient().score(List.of(" Hello \t World ", "ABC"), List.of("hello world", "abc")))
                .isEqualTo(1.0);
    }

    @Test
    void eachNormalisationAlone() {
        assertThat(ExactMatch.with(EnumSet.of(ExactMatch.Normalisation.TRIM)).matches(" a b ", "a b")).isTrue();
        assertThat(ExactMatch.with(EnumSet.of(ExactMatch.Normalisation.TRIM)).matches("a  b", "a b")).isFalse();
        assertThat(ExactMatch.with(EnumSet.of(ExactMatch.Normalisation.COLLAPSE_WHITESPACE)).matches("a \n b", "a b"))
                .isTrue();
        assertThat(ExactMatch.with(EnumSet.of(ExactMatch.Normalisation.LOWER_CASE)).matches("SELECT", "select"))
                .isTrue();
    }

    @Test
    void unicodeIsLowerCasedNotCaseFolded() {
        assertThat(ExactMatch.lenient().matches("ZOË", "zoë")).isTrue();
        // lower-casing keeps ß; "STRASSE" lower-cases to "strasse", a different string
        assertThat(ExactMatch.lenient().matches("Straße", "STRASSE")).isFalse();
        // a no-break space is white space for trimming and collapsing
        assertThat(ExactMatch.lenient().matches("a\u00a0b", "a b")).isTrue();
    }

    @Test
    void emptyStringsAndEmptyCorpus() {
        assertThat(ExactMatch.exact().score(List.of(""), List.of(""))).isEqualTo(1.0);
        assertThat(ExactMatch.exact().score(List.of(""), List.of("x"))).isZero();
        assertThat(ExactMatch.exact().score(List.of(), List.of())).isZero();
    }

    @Test
    void anyReferenceMayMatch() {
        assertThat(ExactMatch.exact().scoreMultiReference(List.of("b", "z"), List.of(List.of("a", "b"), List.of("y"))))
                .isEqualTo(0.5);
    }

    @Test
    void differentSizesAreRejected() {
        assertThatThrownBy(() -> ExactMatch.exact().score(List.of("a"), List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 vs 0");
    }
}
