package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpiderDataTest {

    /** What the reference code's get_schema returns for the sample's concert_singer (computed with its Python). */
    static final String CONCERT_SINGER = "stadium: stadium_id number ,  location text ,  name text ,  capacity number"
            + " ,  foreign:  ,  primary: stadium_id | concert: concert_id number ,  concert_name text ,  theme text ,"
            + "  stadium_id text ,  year text ,  foreign: stadium_id from stadium ,  primary: concert_id";

    @TempDir
    Path tmp;

    @Test
    void loadsTheTrainSplitWithTheReferenceInputAndTheLowerCasedTargetWhenAsked() throws Exception {
        Dataset d = SpiderData.load(TestData.dir("spider"), Split.TRAIN, SpiderData.Target.LOWER_CASED);
        assertThat(d.name()).isEqualTo("spider");
        assertThat(d.size()).isEqualTo(3);
        Example e = d.examples().get(1);
        assertThat(e.input()).isEqualTo("Question: What are the names of the stadiums that had concerts in 2014?"
                + "\\Schema: " + CONCERT_SINGER + "\n");
        assertThat(e.output()).isEqualTo("select t2.name from concert as t1 join stadium as t2 on t1.stadium_id  = "
                + " t2.stadium_id where t1.year  =  2014");
        assertThat(e.references()).as("the published gold query, whatever the target")
                .containsExactly(SpiderData.gold(e)).doesNotContain(e.output());
        assertThat(e.field("db_id")).hasValue("concert_singer");
        assertThat(Path.of(e.field("database").orElseThrow()))
                .isEqualTo(TestData.dir("spider").resolve("database/concert_singer/concert_singer.sqlite"))
                .isRegularFile();
    }

    @Test
    void theWholePromptKeepsTheReferenceBackslashSchemaTypo() throws Exception {
        Dataset d = SpiderData.load(TestData.dir("spider"), Split.VALIDATION, SpiderData.Target.LOWER_CASED);
        assertThat(d.size()).isEqualTo(2);
        assertThat(d.format().render(d.examples().get(0))).isEqualTo(
                "Create a sql request for the following question and schema:\n###"
                        + "Question: List the distinct locations of stadiums.\\Schema: " + CONCERT_SINGER + "\n###"
                        + "select distinct location from stadium<|endoftext|>");
        assertThat(d.format().prefix()).isEqualTo(PromptFormat.SPIDER_PREFIX);
        assertThat(d.examples().get(1).output()).isEqualTo("select concert_name from concert where theme  =  \"free"
                + " choice\"");
    }

    @Test
    void schemasFlattenCompositePrimaryKeys() throws Exception {
        Map<String, String> schemas = SpiderData.readSchemas(TestData.dir("spider").resolve("tables.json"));
        assertThat(schemas).containsOnlyKeys("concert_singer", "pets_1");
        assertThat(schemas.get("concert_singer")).isEqualTo(CONCERT_SINGER);
        assertThat(schemas.get("pets_1")).isEqualTo("pets: petid number ,  pettype text ,  foreign:  ,  primary: petid"
                + " | has_pet: stuid number ,  petid number ,  foreign: petid from pets ,  primary: stuid , petid");
    }

    @Test
    void aMissingDatabaseIsNamedWithTheRecord() throws Exception {
        Path questions = tmp.resolve("dev.json");
        Files.writeString(questions, "[\n {\"db_id\": \"concert_singer\", \"question\": \"q\", \"query\": \"select 1\"},"
                + "\n {\"db_id\": \"pets_1\", \"question\": \"q\", \"query\": \"select 1\"}\n]");
        Path spider = TestData.dir("spider");
        assertThatThrownBy(() -> SpiderData.loadFiles(questions, spider.resolve("tables.json"),
                spider.resolve("database"), true, Split.VALIDATION))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(questions.toString()).hasMessageContaining("record 1 (line 3)")
                .hasMessageContaining("database/pets_1/pets_1.sqlite");
        assertThat(SpiderData.loadFiles(questions, spider.resolve("tables.json"), spider.resolve("database"), false,
                Split.VALIDATION).size()).isEqualTo(2);
    }

    @Test
    void aFileThatIsNotSqliteIsRefused() throws Exception {
        Path db = Files.createDirectories(tmp.resolve("database/pets_1")).resolve("pets_1.sqlite");
        Files.writeString(db, "CREATE TABLE pets (PetID int);");
        Path questions = tmp.resolve("dev.json");
        Files.writeString(questions, "[{\"db_id\": \"pets_1\", \"question\": \"q\", \"query\": \"select 1\"}]");
        assertThatThrownBy(() -> SpiderData.loadFiles(questions, TestData.dir("spider").resolve("tables.json"),
                tmp.resolve("database"), true, Split.VALIDATION))
                .isInstanceOf(DataFormatException.class).hasMessageContaining("not an SQLite database")
                .hasMessageContaining(db.toString());
    }

    @Test
    void aMissingFieldIsNamedWithFileRecordAndLine() throws Exception {
        Path questions = tmp.resolve("train_spider.json");
        Files.writeString(questions, "[\n {\"db_id\": \"concert_singer\", \"question\": \"q\", \"query\": \"s\"},\n"
                + " {\"db_id\": \"concert_singer\",\n  \"query\": \"select 1\"}\n]");
        assertThatThrownBy(() -> load(questions))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(questions + ", record 1 (line 3): expected field 'question' (a string), it is missing");
    }

    @Test
    void aFieldOfTheWrongTypeIsNamed() throws Exception {
        Path questions = tmp.resolve("train_spider.json");
        Files.writeString(questions, "[{\"db_id\": \"concert_singer\", \"question\": 7, \"query\": \"s\"}]");
        assertThatThrownBy(() -> load(questions)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("record 0 (line 1)").hasMessageContaining("'question' (a string), found number");
    }

    @Test
    void anUnknownDbIdIsNamed() throws Exception {
        Path questions = tmp.resolve("train_spider.json");
        Files.writeString(questions, "[{\"db_id\": \"nope\", \"question\": \"q\", \"query\": \"s\"}]");
        assertThatThrownBy(() -> load(questions)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("db_id 'nope' has no schema in").hasMessageContaining("tables.json");
    }

    @Test
    void brokenJsonIsNamedWithItsLine() throws Exception {
        Path questions = tmp.resolve("train_spider.json");
        Files.writeString(questions, "[\n {\"db_id\": \"concert_singer\",\n \"question\": \"q\" \"query\": \"s\"}]");
        assertThatThrownBy(() -> load(questions)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining(questions.toString()).hasMessageContaining("not valid JSON")
                .hasMessageContaining("line 3");
    }

    @Test
    void aMalformedTablesFileNamesTheField() throws Exception {
        Path tables = tmp.resolve("tables.json");
        Files.writeString(tables, "[{\"db_id\": \"x\", \"table_names_original\": [\"t\"],"
                + " \"column_names_original\": [[-1, \"*\"]], \"column_types\": [\"text\"], \"primary_keys\": []}]");
        assertThatThrownBy(() -> SpiderData.readSchemas(tables)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining(tables + ", record 0 (line 1): expected field 'foreign_keys' (an array)");
    }

    @Test
    void aMissingQuestionsFileIsNamed() {
        assertThatThrownBy(() -> SpiderData.load(tmp, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("train_spider.json");
    }

    private static Dataset load(Path questions) throws Exception {
        Path spider = TestData.dir("spider");
        return SpiderData.loadFiles(questions, spider.resolve("tables.json"), spider.resolve("database"), true,
                Split.TRAIN);
    }
}
