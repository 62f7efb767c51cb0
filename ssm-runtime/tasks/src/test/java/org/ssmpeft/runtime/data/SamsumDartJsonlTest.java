package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SamsumDartJsonlTest {

    @TempDir
    Path tmp;

    @Test
    void samsumInputIsTheRawDialogueAndOutputTheSummary() throws Exception {
        Dataset d = SamsumData.load(TestData.dir("samsum"), Split.TRAIN);
        assertThat(d.size()).isEqualTo(3);
        Example e = d.examples().get(0);
        assertThat(e.input()).isEqualTo("Amanda: I baked  cookies. Do you want some?\r\nJerry: Sure!\r\n"
                + "Amanda: I'll bring you tomorrow :-)");
        assertThat(e.output()).isEqualTo("Amanda baked cookies and will bring Jerry some tomorrow.");
        assertThat(e.field("id")).hasValue("13818513");
        assertThat(d.format().prefix()).isEmpty();
        assertThat(d.format().render(e)).isEqualTo(e.input() + "###" + e.output() + "<|endoftext|>");
        assertThat(d.examples().get(1).output()).as("not stripped").endsWith("election. ");
        assertThat(SamsumData.load(TestData.dir("samsum"), Split.VALIDATION).size()).isEqualTo(1);
    }

    @Test
    void samsumMissingSummaryIsNamed() throws Exception {
        Path f = tmp.resolve("train.json");
        Files.writeString(f, "[\n  {\"id\": \"1\", \"dialogue\": \"A: hi\", \"summary\": \"hi\"},\n"
                + "  {\"id\": \"2\", \"dialogue\": \"B: yo\"}\n]");
        assertThatThrownBy(() -> SamsumData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessage(f + ", record 1 (line 3): expected field 'summary' (a string), it is missing");
    }

    @Test
    void samsumThatIsNotAnArrayIsNamed() throws Exception {
        Path f = tmp.resolve("train.json");
        Files.writeString(f, "{\"id\": \"1\"}");
        assertThatThrownBy(() -> SamsumData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("expected a JSON array of records");
    }

    @Test
    void dartTrainingExplodesAnnotations() throws Exception {
        Dataset d = DartData.load(TestData.dir("dart"), Split.TRAIN, Mode.TRAIN);
        assertThat(d.size()).isEqualTo(4);
        assertThat(d.examples()).extracting(Example::input).containsExactly(
                "Mars Hill College : JOINED : 1973 | Mars Hill College : LOCATION : Mars Hill, North Carolina",
                "Alimentum : area : city centre | Alimentum : familyFriendly : no",
                "Alimentum : area : city centre | Alimentum : familyFriendly : no",
                "[TABLECONTEXT] : [TITLE] : PlayStation 2 | [TABLECONTEXT] : GAME : Air Ranger");
        assertThat(d.examples().get(2).output()).isEqualTo("In the city centre there is a venue name Alimentum, this is"
                + " not a family-friendly venue.");
        assertThat(d.examples().get(2).field("source")).hasValue("e2e");
        assertThat(d.format().render(d.examples().get(0))).isEqualTo("Generate text for the following RDF triples:\n"
                + "Mars Hill College : JOINED : 1973 | Mars Hill College : LOCATION : Mars Hill, North Carolina###"
                + "A school from Mars Hill, North Carolina, joined in 1973.<|endoftext|>");
        assertThat(DartData.linearize(List.of(List.of("a", "b", "c"), List.of("d", "e", "f"))))
                .isEqualTo("a : b : c | d : e : f");
    }

    @Test
    void dartGenerationKeepsEveryReference() throws Exception {
        Dataset d = DartData.load(TestData.dir("dart"), Split.TRAIN, Mode.GENERATE);
        assertThat(d.size()).isEqualTo(3);
        assertThat(d.mode()).isEqualTo(Mode.GENERATE);
        Example e = d.examples().get(1);
        assertThat(e.references()).containsExactly(
                "There is a place in the city centre, Alimentum, that is not family-friendly.",
                "In the city centre there is a venue name Alimentum, this is not a family-friendly venue.");
        assertThat(e.output()).isEqualTo(String.join("###", e.references()));
    }

    @Test
    void dartMalformedRecordsAreNamed() throws Exception {
        Path f = tmp.resolve("dart-v1.1.1-full-dev.json");
        Files.writeString(f, "[{\"tripleset\": [[\"a\", \"b\", \"c\"]], \"annotations\": [{\"source\": \"e2e\"}]}]");
        assertThatThrownBy(() -> DartData.loadFile(f, Split.VALIDATION, Mode.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ", record 0 (line 1): expected field 'annotations[0].text' (a string), it is missing");
        Files.writeString(f, "[{\"tripleset\": [\"a b c\"], \"annotations\": []}]");
        assertThatThrownBy(() -> DartData.loadFile(f, Split.VALIDATION, Mode.TRAIN))
                .isInstanceOf(DataFormatException.class).hasMessageContaining("'tripleset[0]'");
        Files.writeString(f, "[{\"annotations\": []}]");
        assertThatThrownBy(() -> DartData.loadFile(f, Split.VALIDATION, Mode.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining("expected field 'tripleset' (an array), it is missing");
    }

    @Test
    void jsonlReadsInputOutputReferencesAndFields() throws Exception {
        Dataset d = JsonlData.loadFile(TestData.dir("jsonl").resolve("train.jsonl"), Split.TRAIN);
        assertThat(d.size()).as("the blank line is skipped").isEqualTo(3);
        assertThat(d.examples().get(0)).isEqualTo(new Example("Translate to French: cheese", "fromage"));
        assertThat(d.examples().get(1).field("id")).hasValue("arith-1");
        assertThat(d.examples().get(2).references()).containsExactly("red", "blue", "yellow");
        assertThat(d.format().render(d.examples().get(1))).isEqualTo("2 + 2 =###4<|endoftext|>");
        assertThat(Tasks.load("jsonl", TestData.dir("jsonl"), Split.TRAIN, Mode.TRAIN).size()).isEqualTo(3);
    }

    @Test
    void jsonlErrorsNameTheLine() throws Exception {
        Path f = tmp.resolve("train.jsonl");
        Files.writeString(f, "{\"input\": \"a\", \"output\": \"b\"}\n\n{\"input\": \"c\"}\n");
        assertThatThrownBy(() -> JsonlData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessage(f + ", record 1 (line 3): expected field 'output' (a string), it is missing");
        Files.writeString(f, "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"c\", \n");
        assertThatThrownBy(() -> JsonlData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f + ", line 2: not valid JSON");
        Files.writeString(f, "[1, 2]\n");
        assertThatThrownBy(() -> JsonlData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("line 1").hasMessageContaining("expected an object");
    }

    @Test
    void aBinaryDataFileIsNamedAsNotUtf8TextNotAsInputLength() throws Exception {
        Path f = tmp.resolve("train.jsonl");
        byte[] bytes = new byte[4096];
        new java.util.Random(3).nextBytes(bytes);
        Files.write(f, bytes);
        assertThatThrownBy(() -> JsonlData.loadFile(f, Split.TRAIN)).isInstanceOf(DataFormatException.class)
                .hasMessageStartingWith(f + ", line ").hasMessageContaining("not UTF-8 text")
                .hasMessageNotContaining("Input length");
    }

    @Test
    void tasksByNameAndUnknownNames() throws Exception {
        assertThat(Tasks.load("dart", TestData.dir("dart"), Split.TRAIN, Mode.GENERATE).size()).isEqualTo(3);
        assertThat(Tasks.load("glue-rte", TestData.dir("glue"), Split.TRAIN, Mode.TRAIN).name()).isEqualTo("glue-rte");
        assertThat(Tasks.referenceMaxLength("spider")).isEqualTo(1536);
        assertThat(Tasks.referenceMaxLength("dart")).isZero();
        assertThatThrownBy(() -> Tasks.load("squad", tmp, Split.TRAIN, Mode.TRAIN))
                .hasMessageContaining("unknown task 'squad'").hasMessageContaining("spider, samsum, dart");
    }
}
