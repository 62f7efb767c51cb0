package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.metrics.SpiderScores;
import org.ssmpeft.runtime.metrics.SqlExecution;

/**
 * The published gold SQL is kept as written and scored against, each example on its own database, whatever the
 * training target (issue #15: the loader lower-cased the gold, {@code 'Chile'} became {@code 'chile'}, which selects no
 * row, so a correct prediction was scored wrong). Sample: {@code data/spider-cased}, two databases.
 */
class SpiderGoldCaseTest {

    static final Path SPIDER = TestData.dir("spider-cased");

    @Test
    void byDefaultTheTargetIsTheGoldQueryAsWrittenStripped() throws Exception {
        Dataset dev = SpiderData.load(SPIDER, Split.VALIDATION);
        assertThat(dev.examples()).extracting(Example::output).containsExactly(
                "SELECT Name FROM city WHERE Country = 'Chile'",
                "SELECT count(*) FROM product AS T1 JOIN maker AS T2 ON T1.Maker_ID = T2.Maker_ID"
                        + " WHERE T2.Name = \"Acme\"",
                "SELECT Code FROM country");
        assertThat(dev.examples().get(2).field(SpiderData.GOLD_FIELD)).as("the file's text, blanks included")
                .hasValue("  SELECT Code FROM country  ");
    }

    @Test
    void theLowerCasedTargetIsOnlyTheTrainingTargetTheGoldStaysAsWritten() throws Exception {
        Dataset dev = SpiderData.load(SPIDER, Split.VALIDATION, SpiderData.Target.LOWER_CASED);
        Example chile = dev.examples().getFirst();
        assertThat(chile.output()).isEqualTo("select name from city where country = 'chile'");
        assertThat(SpiderData.gold(chile)).isEqualTo("SELECT Name FROM city WHERE Country = 'Chile'");
        assertThat(chile.references()).containsExactly("SELECT Name FROM city WHERE Country = 'Chile'");
    }

    @Test
    void everyExampleNamesItsOwnDatabase() throws Exception {
        Dataset dev = SpiderData.load(SPIDER, Split.VALIDATION);
        assertThat(dev.examples()).extracting(e -> SPIDER.relativize(SpiderData.database(e)).toString())
                .containsExactly("database/geo_1/geo_1.sqlite", "database/shop_1/shop_1.sqlite",
                        "database/geo_1/geo_1.sqlite");
    }

    @Test
    void theLowerCasedGoldSelectsNothingWhereTheOriginalSelectsTwoRows() throws Exception {
        try (SqlExecution geo = SqlExecution.open(SPIDER.resolve("database/geo_1/geo_1.sqlite"))) {
            assertThat(geo.denotation("SELECT Name FROM city WHERE Country = 'Chile'").orElseThrow()).hasSize(2);
            assertThat(geo.denotation("select name from city where country = 'chile'").orElseThrow()).isEmpty();
        }
    }

    @Test
    void aCorrectPredictionScoresOneAgainstTheGoldOnEachExamplesOwnDatabase() throws Exception {
        for (SpiderData.Target target : SpiderData.Target.values()) {
            List<Example> dev = SpiderData.load(SPIDER, Split.VALIDATION, target).examples();
            List<String> gold = dev.stream().map(SpiderData::gold).toList();
            List<Path> dbs = dev.stream().map(SpiderData::database).toList();
            // the original queries, respelled: same denotation, different text
            List<String> right = List.of("select name from city where Country = 'Chile'",
                    "SELECT count(*) FROM product JOIN maker ON product.Maker_ID = maker.Maker_ID"
                            + " WHERE maker.Name = 'Acme'",
                    "SELECT Code FROM country");
            assertThat(SpiderScores.score(right, gold, dbs)).as(target.name())
                    .containsEntry("execution_accuracy", 1.0).containsKey("exact_set_match");
            // the paper's lower-cased labels, taken as predictions: the literals no longer match
            List<String> lowered = dev.stream().map(e -> SpiderData.Target.LOWER_CASED.apply(SpiderData.gold(e)))
                    .toList();
            assertThat(SpiderScores.score(lowered, gold, dbs).get("execution_accuracy")).as(target.name())
                    .isEqualTo(1.0 / 3, org.assertj.core.api.Assertions.within(1e-12));
        }
    }

    @Test
    void anUnknownTargetNameListsTheKnownOnes() {
        assertThat(SpiderData.Target.forName("lower-cased")).isEqualTo(SpiderData.Target.LOWER_CASED);
        assertThatThrownBy(() -> SpiderData.Target.forName("upper")).hasMessageContaining("as_written")
                .hasMessageContaining("lower_cased");
    }
}
