package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.metrics.SqlExecution.Outcome;

class SqlExecutionTest {

    @TempDir
    Path dir;

    private Path db;
    private SqlExecution execution;

    @BeforeEach
    void createDatabase() throws SQLException {
        db = dir.resolve("concert_singer.sqlite");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement s = c.createStatement()) {
            s.executeUpdate("CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT,"
                    + " age INTEGER)");
            s.executeUpdate("CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INTEGER,"
                    + " year INTEGER, FOREIGN KEY (singer_id) REFERENCES singer(singer_id))");
            s.executeUpdate("INSERT INTO singer VALUES (1, 'Joe Sharp', 'Netherlands', 52),"
                    + " (2, 'Timbaland', 'USA', 32), (3, 'Justin Brown', 'France', 29),"
                    + " (4, 'Rose White', 'France', 41), (5, 'Zoë Ångström', 'USA', 20)");
            s.executeUpdate("INSERT INTO concert VALUES (1, 2, 2014), (2, 3, 2014), (3, 3, 2015), (4, 5, 2015)");
        }
        execution = SqlExecution.open(db, Duration.ofSeconds(2), 100_000);
    }

    @AfterEach
    void close() throws SQLException {
        execution.close();
    }

    @Test
    void aliasesAndColumnOrderDoNotMatter() {
        assertThat(execution.evaluate("SELECT age AS a, name AS n FROM singer WHERE country='France'",
                "SELECT name, age FROM singer WHERE country = 'France'").outcome()).isEqualTo(Outcome.MATCH);
    }

    @Test
    void equivalentQueriesWrittenDifferentlyMatch() {
        String gold = "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id"
                + " WHERE T2.year = 2014";
        String pred = "select name from singer where singer_id in (select singer_id from concert where year = 2014)";
        assertThat(execution.evaluate(pred, gold).outcome()).isEqualTo(Outcome.MATCH);
    }

    @Test
    void wideResultsMatchUnderAColumnPermutation() {
        assertThat(execution.matches("SELECT age, country, name, singer_id FROM singer",
                "SELECT singer_id, name, country, age FROM singer")).isTrue();
        assertThat(execution.matches("SELECT age, country, name, singer_id FROM singer WHERE age > 30",
                "SELECT singer_id, name, country, age FROM singer")).isFalse();
    }

    @Test
    void rowOrderIsIgnoredWithoutOrderByInTheGold() {
        assertThat(execution.evaluate("SELECT name FROM singer ORDER BY name DESC", "SELECT name FROM singer")
                .outcome()).isEqualTo(Outcome.MATCH);
    }

    @Test
    void rowOrderCountsWhenTheGoldOrders() {
        String gold = "SELECT name FROM singer ORDER BY age";
        assertThat(execution.evaluate("SELECT name FROM singer ORDER BY age DESC", gold).outcome())
                .isEqualTo(Outcome.MISMATCH);
        assertThat(execution.evaluate("SELECT name FROM singer ORDER BY age ASC", gold).outcome())
                .isEqualTo(Outcome.MATCH);
        assertThat(execution.evaluate("SELECT name FROM singer", gold).outcome()).isEqualTo(Outcome.MISMATCH);
    }

    @Test
    void resultsAreMultisets() {
        // France twice, USA twice: DISTINCT gives fewer rows
        assertThat(execution.evaluate("SELECT DISTINCT country FROM singer", "SELECT country FROM singer").outcome())
                .isEqualTo(Outcome.MISMATCH);
        assertThat(SqlExecution.resultEquals(rows(List.of(1L), List.of(1L), List.of(2L)),
                rows(List.of(1L), List.of(2L), List.of(2L)), false)).isFalse();
    }

    @Test
    void nonEquivalentQueriesDoNotMatch() {
        // no singer is exactly 30 on this database: different queries, same denotation
        assertThat(execution.matches("SELECT name FROM singer WHERE age > 30",
                "SELECT name FROM singer WHERE age >= 30")).isTrue();
        assertThat(execution.evaluate("SELECT name FROM singer WHERE age > 32",
                "SELECT name FROM singer WHERE age >= 32").outcome()).isEqualTo(Outcome.MISMATCH);
        assertThat(execution.evaluate("SELECT count(*) FROM singer", "SELECT count(*) FROM concert").outcome())
                .isEqualTo(Outcome.MISMATCH);
        assertThat(execution.evaluate("SELECT name, age FROM singer", "SELECT name FROM singer").outcome())
                .isEqualTo(Outcome.MISMATCH);
    }

    @Test
    void integersEqualRealsOfTheSameValueButNotText() {
        // avg(age) over France = (29 + 41) / 2 = 35.0, a REAL
        String gold = "SELECT avg(age) FROM singer WHERE country = 'France'";
        assertThat(execution.evaluate("SELECT 35", gold).outcome()).isEqualTo(Outcome.MATCH);
        assertThat(execution.evaluate("SELECT '35'", gold).outcome()).isEqualTo(Outcome.MISMATCH);
        assertThat(execution.evaluate("SELECT 35.5", gold).outcome()).isEqualTo(Outcome.MISMATCH);
    }

    @Test
    void nullEqualsNullAndUnicodeTextCompares() {
        assertThat(execution.matches("SELECT NULL", "SELECT max(age) FROM singer WHERE age > 100")).isTrue();
        assertThat(execution.matches("SELECT name FROM singer WHERE name LIKE 'Zo%'", "SELECT 'Zoë Ångström'"))
                .isTrue();
        assertThat(execution.matches("SELECT 'Zoe Angstrom'", "SELECT 'Zoë Ångström'")).isFalse();
    }

    @Test
    void emptyResultsMatchWhateverTheirColumns() {
        assertThat(execution.evaluate("SELECT name, age FROM singer WHERE age > 100",
                "SELECT name FROM singer WHERE country = 'Peru'").outcome()).isEqualTo(Outcome.MATCH);
    }

    @Test
    void aSyntaxErrorCountsAsWrong() {
        SqlExecution.Verdict v = execution.evaluate("SELEC name FROM singer", "SELECT name FROM singer");
        assertThat(v.outcome()).isEqualTo(Outcome.NOT_A_SELECT);
        SqlExecution.Verdict w = execution.evaluate("SELECT name FROM singer WHERE", "SELECT name FROM singer");
        assertThat(w.outcome()).isEqualTo(Outcome.PREDICTION_FAILED);
        assertThat(w.detail()).isNotEmpty();
        assertThat(execution.evaluate("SELECT nosuchcolumn FROM singer", "SELECT name FROM singer").outcome())
                .isEqualTo(Outcome.PREDICTION_FAILED);
        assertThat(execution.evaluate("SELECT 'unterminated FROM singer", "SELECT name FROM singer").outcome())
                .isEqualTo(Outcome.NOT_A_SELECT);
    }

    @Test
    void statementsOtherThanOneSelectCountAsWrongAndChangeNothing() throws SQLException {
        String gold = "SELECT count(*) FROM singer";
        assertThat(execution.evaluate("DROP TABLE singer", gold).outcome()).isEqualTo(Outcome.NOT_A_SELECT);
        assertThat(execution.evaluate("SELECT 5; DROP TABLE singer", gold).outcome()).isEqualTo(Outcome.NOT_A_SELECT);
        assertThat(execution.evaluate("DELETE FROM singer", gold).outcome()).isEqualTo(Outcome.NOT_A_SELECT);
        assertThat(execution.evaluate("PRAGMA query_only = 0", gold).outcome()).isEqualTo(Outcome.NOT_A_SELECT);
        // starts like a query, writes: the read-only connection refuses it
        assertThat(execution.evaluate("WITH x AS (SELECT 1) DELETE FROM singer", gold).outcome())
                .isEqualTo(Outcome.PREDICTION_FAILED);
        // a trailing ';' and comments are fine
        assertThat(execution.evaluate("-- five singers\nSELECT 5; /* done */", gold).outcome())
                .isEqualTo(Outcome.MATCH);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM singer")) {
            assertThat(rs.getInt(1)).isEqualTo(5);
        }
    }

    @Test
    void aRunawayQueryIsStoppedByTheDeadline() {
        String forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        long start = System.nanoTime();
        SqlExecution.Verdict v = execution.evaluate(forever, "SELECT 1");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(v.outcome()).isEqualTo(Outcome.PREDICTION_TOO_EXPENSIVE);
        // deadline 2 s; allow for a loaded machine
        assertThat(seconds).isBetween(1.5, 10.0);
        // the connection is usable afterwards
        assertThat(execution.matches("SELECT 1", "SELECT 1")).isTrue();
    }

    @Test
    void anEndlessResultIsStoppedByTheRowLimit() {
        String endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";
        assertThat(execution.evaluate(endless, "SELECT 1").outcome()).isEqualTo(Outcome.PREDICTION_TOO_EXPENSIVE);
    }

    @Test
    void aFailingGoldIsReportedAndCountsAsWrong() {
        assertThat(execution.evaluate("SELECT 1", "SELECT nosuch FROM singer").outcome())
                .isEqualTo(Outcome.GOLD_FAILED);
    }

    @Test
    void accuracyOverACorpus() {
        List<String> gold = List.of("SELECT name FROM singer", "SELECT count(*) FROM concert", "SELECT 1",
                "SELECT 2");
        List<String> pred = List.of("SELECT name FROM singer ORDER BY age", "SELECT 4", "DROP TABLE concert",
                "SELECT 2");
        // hits: 1 (order ignored), 1 (four concerts), 0 (not a select), 1 -> 3/4
        assertThat(execution.accuracy(pred, gold)).isEqualTo(0.75);
        assertThat(execution.toScore(pred, gold)).isEqualTo(Score.of("execution_accuracy", 0.75));
        assertThat(execution.accuracy(List.of(), List.of())).isZero();
    }

    @Test
    void aMissingDatabaseIsNotCreated() {
        Path missing = dir.resolve("nope.sqlite");
        assertThatThrownBy(() -> SqlExecution.open(missing)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nope.sqlite");
        assertThat(Files.exists(missing)).isFalse();
    }

    @Test
    void denotationOfAQuery() {
        assertThat(execution.denotation("SELECT singer_id, age / 2.0 FROM singer WHERE singer_id <= 2").orElseThrow())
                .containsExactly(List.of(1L, 26L), List.of(2L, 16L));
        assertThat(execution.denotation("SELECT x'00ff'").orElseThrow().getFirst().getFirst())
                .isEqualTo(SqlExecution.canonical(new byte[] {0, (byte) 0xff}));
        assertThat(execution.denotation("DROP TABLE singer")).isEmpty();
    }

    @SafeVarargs
    private static List<List<Object>> rows(List<Object>... rows) {
        return Arrays.asList(rows);
    }
}
