package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SqlExactMatchTest {

    @Test
    void caseSpacingAndTheTrailingSemicolonDoNotMatter() {
        assertThat(SqlExactMatch.normalise("SELECT COUNT ( * )  FROM Singer ;"))
                .isEqualTo("select count ( * ) from singer");
        assertThat(SqlExactMatch.matches("select count(*) from singer", "SELECT COUNT(*)\nFROM singer;")).isTrue();
        assertThat(SqlExactMatch.matches("select a from t where b>=1", "select a from t where b >= 1")).isTrue();
    }

    @Test
    void literalsKeepTheirCaseAndCommentsAreDropped() {
        assertThat(SqlExactMatch.matches("SELECT 1 FROM t WHERE n = 'Zoë'", "SELECT 1 FROM t WHERE n = 'zoë'"))
                .isFalse();
        assertThat(SqlExactMatch.normalise("SELECT a -- the column\nFROM t /* x */")).isEqualTo("select a from t");
    }

    @Test
    void itIsNotSpidersComponentMatch() {
        // Spider's exact-set match treats these as equal (AND as a set); a string match does not
        assertThat(SqlExactMatch.matches("SELECT a FROM t WHERE b = 1 AND c = 2",
                "SELECT a FROM t WHERE c = 2 AND b = 1")).isFalse();
    }

    @Test
    void scoreOverACorpus() {
        assertThat(SqlExactMatch.score(List.of("select 1", "select 2"), List.of("SELECT 1;", "SELECT 3")))
                .isEqualTo(0.5);
        assertThat(SqlExactMatch.score(List.of(), List.of())).isZero();
        assertThat(SqlExactMatch.matches("", "  ")).isTrue();
    }
}
