package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.metrics.SpiderScores;

/** Spider's hardness levels (evaluation.py's eval_hardness) from the parsed sql, and accuracy per level. */
class SpiderHardnessTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** A parsed query with these clauses (Spider's process_sql.py layout); columns are plain ids. */
    static String sql(String select, String where, String groupBy, String orderBy, String having, String limit,
                      String tables, String union) {
        return """
                {"except": null, "from": {"conds": [], "table_units": %s}, "groupBy": %s, "having": %s,
                 "intersect": null, "limit": %s, "orderBy": %s, "select": [false, %s], "union": %s, "where": %s}
                """.formatted(tables, groupBy, having, limit, orderBy, select, union, where);
    }

    static final String ONE_TABLE = "[[\"table_unit\", 0]]";
    static final String COL = "[0, [0, [0, 1, false], null]]";
    static final String COUNT = "[3, [0, [0, 0, false], null]]";
    static final String COND = "[false, 2, [0, [0, 1, false], null], 1.0, null]";

    static String level(String json) throws Exception {
        return SpiderHardness.of(JSON.readTree(json)).orElseThrow();
    }

    @Test
    void levelsFollowTheReferenceCounts() throws Exception {
        // SELECT a FROM t
        assertThat(level(sql("[" + COL + "]", "[]", "[]", "[]", "[]", "null", ONE_TABLE, "null"))).isEqualTo("easy");
        // SELECT a, count(*) FROM t WHERE x = 1: c1 1, others 1 (two select columns)
        assertThat(level(sql("[" + COL + ", " + COUNT + "]", "[" + COND + "]", "[]", "[]", "[]", "null", ONE_TABLE,
                "null"))).isEqualTo("medium");
        // WHERE, GROUP BY, ORDER BY, LIMIT: c1 4
        assertThat(level(sql("[" + COL + "]", "[" + COND + "]", "[[0, 1, false]]",
                "[\"desc\", [[0, [3, 0, false], null]]]", "[]", "1", ONE_TABLE, "null"))).isEqualTo("extra");
        // WHERE, GROUP BY, ORDER BY: c1 3, others 0
        assertThat(level(sql("[" + COL + "]", "[" + COND + "]", "[[0, 1, false]]",
                "[\"desc\", [[0, [0, 1, false], null]]]", "[]", "null", ONE_TABLE, "null"))).isEqualTo("hard");
        // SELECT a FROM t UNION SELECT a FROM t: c2 1
        String inner = sql("[" + COL + "]", "[]", "[]", "[]", "[]", "null", ONE_TABLE, "null");
        assertThat(level(sql("[" + COL + "]", "[]", "[]", "[]", "[]", "null", ONE_TABLE, inner))).isEqualTo("hard");
        // a union and a WHERE with two conditions joined by or: c1 2, c2 1
        assertThat(level(sql("[" + COL + "]", "[" + COND + ", \"or\", " + COND + "]", "[]", "[]", "[]", "null",
                ONE_TABLE, inner))).isEqualTo("extra");
    }

    @Test
    void theReferenceQuirksAreKept() throws Exception {
        // SELECT count(*) ... WHERE NOT x = 1 AND y = 1 ORDER BY a: the NOT flag counts as an aggregation, so there
        // are 2 (others 2 with the two where conditions, c1 2: extra); without the quirk others 1 would be medium
        String notCond = "[true, 2, [0, [0, 1, false], null], 1.0, null]";
        String orderBy = "[\"asc\", [[0, [0, 1, false], null]]]";
        assertThat(level(sql("[" + COUNT + "]", "[" + notCond + ", \"and\", " + COND + "]", "[]", orderBy, "[]",
                "null", ONE_TABLE, "null"))).isEqualTo("extra");
        assertThat(level(sql("[" + COUNT + "]", "[" + COND + ", \"and\", " + COND + "]", "[]", orderBy, "[]",
                "null", ONE_TABLE, "null"))).as("the same without NOT").isEqualTo("medium");
    }

    @Test
    void anEmptySqlHasNoLevel() throws Exception {
        assertThat(SpiderHardness.of(JSON.readTree("{}"))).isEmpty();
        assertThat(SpiderHardness.of(null)).isEmpty();
    }

    @Test
    void theSampleDevSetCarriesLevelsAndIsScoredPerLevel() throws Exception {
        Path spider = TestData.dir("spider-cased");
        List<Example> dev = SpiderData.load(spider, Split.VALIDATION).examples();
        assertThat(dev).extracting(e -> e.field(SpiderData.HARDNESS_FIELD).orElse("-"))
                .containsExactly("easy", "medium", "easy");
        assertThat(SpiderData.load(spider, Split.TRAIN).examples())
                .allSatisfy(e -> assertThat(e.field(SpiderData.HARDNESS_FIELD)).isEmpty());
        List<String> gold = dev.stream().map(SpiderData::gold).toList();
        // right on the first, wrong on the others
        List<String> predicted = List.of(gold.getFirst(), "SELECT 0", "SELECT 1");
        var scores = SpiderScores.score(predicted, gold, dev.stream().map(SpiderData::database).toList(),
                dev.stream().map(e -> e.field(SpiderData.HARDNESS_FIELD).orElse(null)).toList());
        assertThat(scores).containsEntry("execution_accuracy_easy", 0.5).containsEntry("execution_accuracy_medium",
                0.0).doesNotContainKeys("execution_accuracy_hard", "execution_accuracy_extra");
        assertThat(List.copyOf(scores.keySet())).containsExactly("execution_accuracy", "exact_set_match",
                "execution_accuracy_easy", "exact_set_match_easy", "execution_accuracy_medium",
                "exact_set_match_medium");
    }
}
