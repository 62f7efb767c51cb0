package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GlueDataTest {

    @TempDir
    Path tmp;

    private static Dataset load(GlueTask task, Split split) throws Exception {
        return GlueData.load(task, TestData.dir("glue"), split);
    }

    @Test
    void colaHasNoHeaderAndReadsColumnsByPosition() throws Exception {
        Dataset d = load(GlueTask.COLA, Split.TRAIN);
        assertThat(d.name()).isEqualTo("glue-cola");
        assertThat(d.examples()).extracting(Example::output).containsExactly("1", "1", "0", "1");
        assertThat(d.examples().get(2).input()).isEqualTo("They drank the pub.");
        assertThat(d.examples().get(3).input()).as("quotes are literal").isEqualTo(
                "\"The more we study verbs, the crazier they get.\"");
    }

    @Test
    void rtePromptIsThePaperCodesInstructionInputSeparatorAndDigit() throws Exception {
        Dataset d = load(GlueTask.RTE, Split.TRAIN);
        Example e = d.examples().get(1);
        assertThat(e.output()).isEqualTo("0");
        assertThat(e.field("label")).hasValue("entailment");
        assertThat(d.format().render(e)).isEqualTo("Determine if the given pair of sentences displays entailment or"
                + " not_entailment. Respond with '0' if entailment or '1' if not_entailment: "
                + "A place of sorrow, after Pope John Paul II died, became a place of celebration, as Roman Catholic"
                + " faithful gathered in downtown Chicago to mark the installation of new Pope Benedict XVI."
                + "###Pope Benedict XVI is the new leader of the Roman Catholic Church.###0");
        assertThat(d.format().eosAfterLabel()).isFalse();
        assertThat(d.format().prefix()).isEmpty();
        assertThat(load(GlueTask.RTE, Split.VALIDATION).examples()).extracting(Example::output).containsExactly("1");
    }

    @Test
    void sentencePairTasksReadTheirColumnsByHeaderName() throws Exception {
        Example mrpc = load(GlueTask.MRPC, Split.TRAIN).examples().get(0);
        assertThat(mrpc.input()).startsWith("Amrozi accused his brother").contains(" .###Referring to him")
                .endsWith("distorting his evidence .");
        assertThat(mrpc.output()).isEqualTo("1");
        Example qqp = load(GlueTask.QQP, Split.TRAIN).examples().get(1);
        assertThat(qqp.input()).isEqualTo("How do I control my horny emotions?###How do you control your horniness?");
        assertThat(qqp.output()).isEqualTo("1");
        Dataset qnli = load(GlueTask.QNLI, Split.TRAIN);
        assertThat(qnli.examples()).extracting(Example::output).containsExactly("1", "1", "0");
        assertThat(qnli.examples().get(2).input()).isEqualTo("What is the name of the stadium?###The stadium is called"
                + " Anfield.");
        assertThat(load(GlueTask.WNLI, Split.TRAIN).examples()).extracting(Example::output).containsExactly("1", "1");
    }

    @Test
    void sst2IsSingleSentence() throws Exception {
        Dataset d = load(GlueTask.SST2, Split.VALIDATION);
        assertThat(d.examples()).extracting(Example::output).containsExactly("1", "0");
        assertThat(d.examples().get(1).input()).isEqualTo("unflinchingly bleak and desperate ");
        assertThat(d.format().inputText(d.examples().get(1))).isEqualTo("Read the provided excerpt and choose between"
                + " negative and positive to describe its sentiment. Respond with '0' if negative or '1' if positive: "
                + "unflinchingly bleak and desperate ###");
    }

    @Test
    void mnliMapsGoldLabelsAndItsValidationIsMatchedThenMismatched() throws Exception {
        Dataset train = load(GlueTask.MNLI, Split.TRAIN);
        assertThat(train.examples()).extracting(Example::output).containsExactly("1", "0", "0");
        assertThat(train.examples().get(0).input()).isEqualTo("Conceptually cream skimming has two basic dimensions -"
                + " product and geography.###Product and geography are what make cream skimming work. ");
        Dataset val = load(GlueTask.MNLI, Split.VALIDATION);
        assertThat(val.examples()).extracting(Example::output).containsExactly("1", "2", "2");
        assertThat(val.examples().get(2).input()).startsWith("Your contribution helped");
        assertThat(GlueTask.MNLI.instruction()).isEqualTo("Assess the connection between the following sentences and"
                + " classify it as entailment, neutral, or contradiction. Respond with '0' if entailment, '1' if"
                + " neutral or '2' if contradiction: ");
    }

    @Test
    void tooFewColumnsAreNamedWithTheLine() throws Exception {
        Path f = tmp.resolve("train.tsv");
        Files.writeString(f, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one sentence\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.RTE, f, Split.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f + ", line 3: expected 4 tab-separated columns of RTE")
                .hasMessageContaining("found 2");
        Files.writeString(f, "gj04\t1\tThe sentence in the wrong column.\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.COLA, f, Split.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f + ", line 1").hasMessageContaining("CoLA files have no header");
    }

    @Test
    void anUnknownLabelIsNamed() throws Exception {
        Path f = tmp.resolve("train.tsv");
        Files.writeString(f, "index\tquestion\tsentence\tlabel\n0\tq?\ts.\tmaybe\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.QNLI, f, Split.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ", line 2: expected the label column ('label') to be one of [entailment,"
                        + " not_entailment], found 'maybe'");
    }

    @Test
    void aTestFileWithoutLabelsIsRefusedByItsHeader() throws Exception {
        Path f = tmp.resolve("test.tsv");
        Files.writeString(f, "index\tsentence1\tsentence2\n0\ta\tb\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.RTE, f, Split.TEST))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f + ", line 1 (header): expected a column 'label'")
                .hasMessageContaining("test files carry no labels");
        assertThatThrownBy(() -> GlueData.load(GlueTask.RTE, TestData.dir("glue"), Split.TEST))
                .hasMessageContaining("validation");
    }

    @Test
    void aMissingFileIsNamed() {
        assertThatThrownBy(() -> GlueData.load(GlueTask.QQP, TestData.dir("glue"), Split.VALIDATION))
                .isInstanceOf(DataFormatException.class).hasMessageContaining("QQP/dev.tsv");
    }

    @Test
    void tasksByName() {
        assertThat(GlueTask.forName("SST-2")).isEqualTo(GlueTask.SST2);
        assertThat(GlueTask.forName("mnli")).isEqualTo(GlueTask.MNLI);
        assertThat(GlueTask.forName("STS-B")).isEqualTo(GlueTask.STSB);
        assertThatThrownBy(() -> GlueTask.forName("stsx")).hasMessageContaining("unknown GLUE task 'stsx'")
                .hasMessageContaining("cola, sst2, mrpc, qqp, qnli, rte, mnli, wnli, stsb");
    }

    @Test
    void stsbReadsItsScoreColumnByNameAndGeneratesTheScoreRoundedToAFifthThenEos() throws Exception {
        Dataset d = load(GlueTask.STSB, Split.TRAIN);
        assertThat(d.name()).isEqualTo("glue-stsb");
        assertThat(d.examples()).extracting(Example::output).as("4.8; 0.5 is a tie, to the even fifth 0.4; 3.84")
                .containsExactly("4.8", "0.4", "3.8");
        assertThat(d.examples()).extracting(e -> e.field("label").orElseThrow()).as("the published score is kept")
                .containsExactly("4.800", "0.500", "3.840");
        Example e = d.examples().get(2);
        assertThat(e.input()).as("quotes are literal").isEqualTo("\"Do you boil the pasta first?\"###Should the pasta"
                + " be boiled first?");
        assertThat(d.format().eosAfterLabel()).as("generated, so decoding stops after the number").isTrue();
        assertThat(d.format().render(e)).isEqualTo(GlueTask.STSB.instruction() + e.input() + "###3.8<|endoftext|>");
        assertThat(load(GlueTask.STSB, Split.VALIDATION).examples()).extracting(Example::output)
                .containsExactly("5.0", "0.0");
        assertThat(GlueTask.STSB.regression()).isTrue();
        assertThat(GlueTask.RTE.regression()).isFalse();
    }

    @Test
    void similarityTargetsRoundToTheNearestFifthWithTiesToEven() {
        // numpy: '%.1f' % (np.round(x * 5) / 5), the half-to-even rounding of tf.round in T5's STS-B target
        double[] x = {0.1, 0.3, 0.5, 0.7, 3.84, 3.9, 5.0, 0.0, 2.5, 1.1, 4.7, 0.25};
        String[] numpy = {"0.0", "0.4", "0.4", "0.8", "3.8", "4.0", "5.0", "0.0", "2.4", "1.2", "4.8", "0.2"};
        for (int i = 0; i < x.length; i++) {
            assertThat(GlueData.similarityTarget(x[i])).as("score " + x[i]).isEqualTo(numpy[i]);
        }
    }

    @Test
    void aGeneratedSimilarityIsReadAsANumberOrIsOutOfClass() {
        assertThat(GlueData.parseSimilarity("3.8")).hasValue(3.8);
        assertThat(GlueData.parseSimilarity(" 4 ")).hasValue(4.0);
        assertThat(GlueData.parseSimilarity(".5")).hasValue(0.5);
        assertThat(GlueData.parseSimilarity("7.25")).as("not clipped").hasValue(7.25);
        assertThat(GlueData.parseSimilarity("-1e0")).hasValue(-1.0);
        for (String bad : new String[] {"", "3.8###", "high", "NaN", "Infinity", "1e400", "0x1p1", "2d", "3,8",
                "3.8 4.0"}) {
            assertThat(GlueData.parseSimilarity(bad)).as("'" + bad + "'").isEmpty();
        }
    }

    @Test
    void anStsbFileWithoutItsHeaderOrWithABadScoreIsRefusedNamingTheColumn() throws Exception {
        Path f = tmp.resolve("train.tsv");
        Files.writeString(f, "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA b.\tC d.\t4.000\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.STSB, f, Split.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessageContaining(f + ", line 1 (header): expected a column 'sentence1' in the STS-B header");
        String header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
        Files.writeString(f, header + "0\tg\tf\ty\t1\tnone\tnone\tA b.\tC d.\t5.5\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.STSB, f, Split.TRAIN))
                .isInstanceOf(DataFormatException.class)
                .hasMessage(f + ", line 2: expected the label column ('score') to be a similarity score from 0 to 5,"
                        + " found '5.5'");
        Files.writeString(f, header.replace("\tscore", "") + "0\tg\tf\ty\t1\tnone\tnone\tA b.\tC d.\n");
        assertThatThrownBy(() -> GlueData.loadFile(GlueTask.STSB, f, Split.TEST))
                .hasMessageContaining("expected a column 'score'").hasMessageContaining("test files carry no labels");
    }
}
