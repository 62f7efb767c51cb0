package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.SpiderData;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.data.TestData;

/**
 * Spider's exact-set match on the sample databases of {@code data/spider-cased} (geo_1: country, city with the
 * foreign key city.Country -> country.Code; shop_1: maker, product). Every expected verdict below was computed once by
 * the official evaluation ({@code exact_set_match_reference.py} in that folder, run on taoyds/spider's
 * {@code evaluation.py} and {@code process_sql.py} as the paper code ships them, NLTK 3.10.3) on exactly these
 * (database, gold, prediction) triples, which {@code exact_set_match_pairs.json} there lists in the same order.
 */
class SpiderExactSetMatchTest {

    private static final Map<String, SpiderExactSetMatch.Schema> SCHEMAS = new HashMap<>();
    private static final Map<String, Path> DATABASES = new HashMap<>();
    private static final Map<String, Map<String, String>> KEYS = new HashMap<>();

    @BeforeAll
    static void schemasOfTheSampleDatabases() throws Exception {
        Path spider = TestData.dir("spider-cased");
        for (Split split : List.of(Split.TRAIN, Split.VALIDATION)) {
            for (Example e : SpiderData.load(spider, split).examples()) {
                String db = e.field("db_id").orElseThrow();
                if (!SCHEMAS.containsKey(db)) {
                    try (SqlExecution sql = SqlExecution.open(SpiderData.database(e))) {
                        SCHEMAS.put(db, new SpiderExactSetMatch.Schema(sql.schema(), SpiderData.foreignKeys(e)));
                    }
                    DATABASES.put(db, SpiderData.database(e));
                    KEYS.put(db, SpiderData.foreignKeys(e));
                }
            }
        }
    }

    static Stream<Arguments> officialVerdicts() {
        return Stream.of(
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Country = 'Chile'",
                        "select name from city where country = 'Peru'"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Country = 'Chile' AND Population > 1000000",
                        "SELECT Name FROM city WHERE Population > 5 AND Country = 'Chile'"),
                Arguments.of("geo_1", false,
                        "SELECT Code FROM country",
                        "SELECT Name FROM country"),
                Arguments.of("geo_1", false,
                        "SELECT count(*) FROM city WHERE Country = 'Chile'",
                        "SELECT count(City_ID) FROM city WHERE Country = 'Chile'"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Country = 'Chile'",
                        "SELECT T1.Name FROM city AS T1 WHERE T1.Country = 'Chile'"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Country = 'Chile'",
                        "SELECT T1.Name FROM city T1 WHERE T1.Country = 'Chile'"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city ORDER BY Population DESC LIMIT 1",
                        "SELECT Name FROM city ORDER BY Population DESC LIMIT 3"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city ORDER BY Population DESC LIMIT 1",
                        "SELECT Name FROM city ORDER BY Population ASC LIMIT 1"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city ORDER BY Population DESC LIMIT 1",
                        "SELECT Name FROM city ORDER BY Population DESC"),
                Arguments.of("geo_1", true,
                        "SELECT T1.Code FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country",
                        "SELECT T2.Country FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country"),
                Arguments.of("geo_1", false,
                        "SELECT T1.Name FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country",
                        "SELECT T2.Name FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Country = 'Chile' OR Country = 'Peru'",
                        "SELECT Name FROM city WHERE Country = 'Chile' AND Country = 'Peru'"),
                Arguments.of("geo_1", true,
                        "SELECT Country, count(*) FROM city GROUP BY Country HAVING count(*) > 1",
                        "SELECT count(*), Country FROM city GROUP BY Country HAVING count(*) > 2"),
                Arguments.of("geo_1", false,
                        "SELECT Country, count(*) FROM city GROUP BY Country HAVING count(*) > 1",
                        "SELECT Country, count(*) FROM city GROUP BY Country"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM country WHERE Code IN (SELECT Country FROM city WHERE Population > "
                        + "1000000)",
                        "SELECT Name FROM country WHERE Code IN (SELECT Country FROM city WHERE Population > 5)"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM country WHERE Code IN (SELECT Country FROM city WHERE Population > "
                        + "1000000)",
                        "SELECT Name FROM country WHERE Code NOT IN (SELECT Country FROM city WHERE Population > "
                        + "5)"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Country = 'Chile' INTERSECT SELECT Name FROM city WHERE "
                        + "Population > 100",
                        "SELECT Name FROM city WHERE Country = 'Peru' INTERSECT SELECT Name FROM city WHERE "
                        + "Population > 5"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Country = 'Chile' INTERSECT SELECT Name FROM city WHERE "
                        + "Population > 100",
                        "SELECT Name FROM city WHERE Country = 'Chile' UNION SELECT Name FROM city WHERE "
                        + "Population > 100"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city",
                        "SELECT Name FROM country"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Name LIKE '%a%'",
                        "SELECT Name FROM city WHERE Name = 'a'"),
                Arguments.of("shop_1", true,
                        "SELECT count(*) FROM product AS T1 JOIN maker AS T2 ON T1.Maker_ID = T2.Maker_ID WHERE "
                        + "T2.Name = \"Acme\"",
                        "SELECT count(*) FROM maker AS T2 JOIN product AS T1 ON T2.Maker_ID = T1.Maker_ID WHERE "
                        + "T2.Name = 'Globex'"),
                Arguments.of("shop_1", false,
                        "SELECT avg(Price) FROM product",
                        "SELECT max(Price) FROM product"),
                Arguments.of("shop_1", true,
                        "SELECT DISTINCT Name FROM maker",
                        "SELECT Name FROM maker"),
                Arguments.of("shop_1", true,
                        "SELECT Name FROM product WHERE Price BETWEEN 1 AND 5",
                        "SELECT Name FROM product WHERE Price BETWEEN 2 AND 3"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price >= 4",
                        "SELECT Name FROM product WHERE Price > 4"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price >= 4",
                        "select name from product where price>=4"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price >= 4",
                        "SELECT FROM"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price >= 4",
                        "the cat sat"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Population > 100 ORDER BY Name",
                        "SELECT Name FROM city WHERE Population > 100 ORDER BY Name ASC"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city",
                        "SELECT name FROM city;"),
                Arguments.of("geo_1", true,
                        "SELECT country.Name FROM country JOIN city ON country.Code = city.Country",
                        "SELECT T1.Name FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city GROUP BY Country",
                        "SELECT Name FROM city GROUP BY city.Country"),
                Arguments.of("geo_1", false,
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Code",
                        "SELECT Name FROM city"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Name = 'select name from country'",
                        "SELECT Name FROM city WHERE Name != 'x'"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Name = 'select name from country'",
                        "SELECT Name FROM city WHERE Name = 'it''s'"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price > 5",
                        "SELECT Name FROM product WHERE Price*2 > 9"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM product WHERE Price - Product_ID > 5",
                        "SELECT Name FROM product WHERE Price + Product_ID > 5"),
                Arguments.of("shop_1", true,
                        "SELECT count(DISTINCT Name) FROM maker",
                        "SELECT count(Name) FROM maker"),
                Arguments.of("shop_1", false,
                        "SELECT Name FROM maker WHERE Maker_ID NOT IN (SELECT Maker_ID FROM product)",
                        "SELECT Name FROM maker EXCEPT SELECT T2.Name FROM product AS T1 JOIN maker AS T2 ON "
                        + "T1.Maker_ID = T2.Maker_ID"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Population > (SELECT avg(Population) FROM city)",
                        "SELECT Name FROM city WHERE Population > (SELECT avg(Population) FROM city WHERE Country "
                        + "= 'Peru')"),
                Arguments.of("geo_1", true,
                        "SELECT Name FROM city WHERE Population > (SELECT avg(Population) FROM city)",
                        "SELECT Name FROM city WHERE Population > (SELECT avg(Population) FROM city)"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Population > (SELECT avg(Population) FROM city)",
                        "SELECT Name FROM city WHERE Population > (SELECT max(Population) FROM city)"),
                Arguments.of("geo_1", true,
                        "SELECT Name , Population FROM city",
                        "SELECT Population, Name FROM city"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city WHERE Country = 'Chile'",
                        "SELECT Name FROM city WHERE Country = 'Chile"),
                // the ON value t2.code swallows "or t1.name = t2.name" (process_sql's value scan stops at and, not or)
                Arguments.of("geo_1", true,
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Code OR T1.Name = T2.Name",
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Code"),
                // join conditions are not compared
                Arguments.of("geo_1", true,
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Code",
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Name"),
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city GROUP BY Name HAVING count(*) > 1 OR avg(Population) > 5",
                        "SELECT Name FROM city GROUP BY Name HAVING count(*) > 1 AND avg(Population) > 5"),
                // only the keywords tell these apart: a LIMIT without ORDER BY, a LIKE in a join condition
                Arguments.of("geo_1", false,
                        "SELECT Name FROM city LIMIT 3",
                        "SELECT Name FROM city"),
                Arguments.of("geo_1", false,
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country = T2.Code",
                        "SELECT T1.Name FROM city AS T1 JOIN country AS T2 ON T1.Country LIKE T2.Code"));
    }

    @ParameterizedTest(name = "{index}: {1} {3}")
    @MethodSource("officialVerdicts")
    void agreesWithTheOfficialEvaluation(String db, boolean match, String gold, String predicted) {
        assertThat(SpiderExactSetMatch.matches(predicted, gold, SCHEMAS.get(db))).isEqualTo(match);
    }

    @Test
    void theSchemaIsReadFromTheDatabaseAndTheForeignKeysFromTablesJson() {
        assertThat(SCHEMAS.get("geo_1").tables()).containsExactly(
                Map.entry("country", List.of("code", "name", "continent")),
                Map.entry("city", List.of("city_id", "name", "country", "population")));
        assertThat(KEYS.get("geo_1")).containsExactly(Map.entry("__city.country__", "__country.code__"),
                Map.entry("__country.code__", "__country.code__"));
        assertThat(KEYS.get("shop_1")).containsEntry("__product.maker_id__", "__maker.maker_id__");
    }

    @Test
    void withoutTheForeignKeyAJoinedColumnIsAnotherColumn() {
        String gold = "SELECT T1.Code FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country";
        String predicted = "SELECT T2.Country FROM country AS T1 JOIN city AS T2 ON T1.Code = T2.Country";
        assertThat(SpiderExactSetMatch.matches(predicted, gold, SCHEMAS.get("geo_1"))).isTrue();
        var noKeys = new SpiderExactSetMatch.Schema(SCHEMAS.get("geo_1").tables(), Map.of());
        assertThat(SpiderExactSetMatch.matches(predicted, gold, noKeys)).isFalse();
    }

    @Test
    void tokensAreSplitAsNltkSplitsThem() throws Exception {
        assertThat(SpiderExactSetMatch.tokenize("SELECT count(*) FROM t WHERE a >= 3 AND b != 'Bob' AND c = \"x y\";"))
                .containsExactly("select", "count", "(", "*", ")", "from", "t", "where", "a", ">=", "3", "and", "b",
                        "!=", "\"Bob\"", "and", "c", "=", "\"x y\"", ";");
        assertThat(SpiderExactSetMatch.tokenize("select a>=3, t1.b from x")).as("'=3' stays one token")
                .containsExactly("select", "a", ">", "=3", ",", "t1.b", "from", "x");
        assertThat(SpiderExactSetMatch.tokenize("where x in (1,2)")).as("no split before a digit")
                .containsExactly("where", "x", "in", "(", "1,2", ")");
    }

    @Test
    void exactSetMatchAndExecutionAccuracyDisagreeBothWays() {
        // a different literal: the same clauses (values are ignored), another result;
        // count(City_ID) for count(*): another SELECT column, the same result
        String gold = "SELECT count(*) FROM city WHERE Country = 'Chile'";
        List<String> predicted = List.of("SELECT count(*) FROM city WHERE Country = 'Peru'",
                "SELECT count(City_ID) FROM city WHERE Country = 'Chile'");
        Map<String, Double> s = SpiderScores.score(predicted, List.of(gold, gold),
                List.of(DATABASES.get("geo_1"), DATABASES.get("geo_1")), List.of("easy", "medium"),
                List.of(KEYS.get("geo_1"), KEYS.get("geo_1")));
        assertThat(s).containsExactly(Map.entry("execution_accuracy", 0.5), Map.entry("exact_set_match", 0.5),
                Map.entry("execution_accuracy_easy", 0.0), Map.entry("exact_set_match_easy", 1.0),
                Map.entry("execution_accuracy_medium", 1.0), Map.entry("exact_set_match_medium", 0.0));
        assertThat(s.get("exact_set_match")).isCloseTo(0.5, within(0.0));
    }

    @Test
    void aGoldQueryTheParserCannotReadMatchesNothing() {
        String gold = "SELECT Name FROM product WHERE Price * 2 > 5";
        assertThat(SpiderExactSetMatch.parses(gold, SCHEMAS.get("shop_1"))).isFalse();
        assertThat(SpiderExactSetMatch.matches(gold, gold, SCHEMAS.get("shop_1"))).isFalse();
    }
}
