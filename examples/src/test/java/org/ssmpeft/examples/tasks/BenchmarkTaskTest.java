package org.ssmpeft.examples.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.net.URISyntaxException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.SpiderData;
import org.ssmpeft.runtime.data.Split;

/**
 * The benchmarks behind {@code --task} on sample files in their published layouts (test resources
 * {@code benchmarks/}): the paper's splits, prompts and scoring rules.
 */
class BenchmarkTaskTest {

    static Path sample(String name) {
        try {
            return Path.of(BenchmarkTaskTest.class.getResource("/benchmarks/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static BenchmarkTask open(String name, String dir) throws Exception {
        return BenchmarkTask.open(name, sample(dir), BenchmarkTask.Options.DEFAULTS);
    }

    @Test
    void spiderTestIsTheDevSetAndValidationASeededFifthOfTheTrainingFile() throws Exception {
        BenchmarkTask spider = open("spider", "spider");
        List<Example> train = spider.examples(Split.TRAIN);
        List<Example> validation = spider.examples(Split.VALIDATION);
        assertThat(spider.examples(Split.TEST)).extracting(SpiderData::gold)
                .startsWith("SELECT Name FROM city WHERE Country = 'Chile'").hasSize(3);
        assertThat(validation).as("ceil(0.2 * 5)").hasSize(1);
        assertThat(train).hasSize(4).doesNotContainAnyElementsOf(validation);
        List<Example> union = new ArrayList<>(train);
        union.addAll(validation);
        assertThat(union).containsExactlyInAnyOrderElementsOf(SpiderData.load(sample("spider"), Split.TRAIN)
                .examples());
        assertThat(open("spider", "spider").examples(Split.VALIDATION)).as("the same seed, the same split")
                .isEqualTo(validation);
    }

    @Test
    void theSplitOfALargerFileIsAFifthWhateverTheOrderAndIsDeterministic() {
        List<Example> all = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            all.add(new Example("q" + i, "a" + i));
        }
        List<Example> v = BenchmarkTask.heldOut(all, Split.VALIDATION);
        assertThat(v).hasSize(200).isEqualTo(BenchmarkTask.heldOut(all, Split.VALIDATION));
        assertThat(BenchmarkTask.heldOut(all, Split.TRAIN)).hasSize(800).doesNotContainAnyElementsOf(v);
        assertThat(v.subList(0, 10)).as("not simply the last fifth").isNotEqualTo(all.subList(800, 810));
    }

    @Test
    void spiderScoresAPredictionAgainstThePublishedGoldEvenWithTheLowerCasedTarget() throws Exception {
        BenchmarkTask lower = BenchmarkTask.open("spider", sample("spider"),
                new BenchmarkTask.Options(SpiderData.Target.LOWER_CASED));
        List<Example> test = lower.examples(Split.TEST);
        assertThat(test.getFirst().output()).isEqualTo("select name from city where country = 'chile'");
        Map<String, Double> asPublished = lower.scoreGenerations(test.stream().map(SpiderData::gold).toList(), test);
        assertThat(asPublished).containsEntry("execution_accuracy", 1.0).containsEntry("exact_set_match", 1.0)
                .containsEntry("execution_accuracy_easy", 1.0).containsEntry("execution_accuracy_medium", 1.0);
        Map<String, Double> targets = lower.scoreGenerations(test.stream().map(Example::output).toList(), test);
        assertThat(targets.get("execution_accuracy")).as("'chile' and \"acme\" select nothing")
                .isEqualTo(1.0 / 3, within(1e-12));
        assertThat(targets.get("exact_set_match")).as("the same clauses: only the values differ, which it ignores")
                .isEqualTo(1.0);
    }

    @Test
    void samsumKeepsTheCrlfTurnsAndScoresRouge() throws Exception {
        BenchmarkTask samsum = open("samsum", "samsum");
        List<Example> test = samsum.examples(Split.TEST);
        assertThat(test.getFirst().input()).isEqualTo("Hannah: Hey, do you have Betty's number?\r\nAmanda: Lemme"
                + " check\r\nAmanda: Sorry, can't find it.");
        assertThat(samsum.examples(Split.VALIDATION)).hasSize(1);
        assertThat(samsum.scoreGenerations(test.stream().map(Example::output).toList(), test))
                .containsOnlyKeys("rouge1", "rouge2", "rougeL", "rougeLsum").containsEntry("rouge1", 1.0);
    }

    @Test
    void dartTrainsOnEveryAnnotationAndScoresAgainstAllReferences() throws Exception {
        BenchmarkTask dart = open("dart", "dart");
        assertThat(dart.examples(Split.TRAIN)).as("2 + 1 + 3 annotations").hasSize(6);
        List<Example> test = dart.examples(Split.TEST);
        assertThat(test).hasSize(2);
        assertThat(test.getFirst().input()).isEqualTo("Bananaman : firstAired : 1983-10-03");
        assertThat(test.getFirst().references()).hasSize(2);
        // the second reference of each set, as the prediction: a perfect match for a multi-reference BLEU
        List<String> second = test.stream().map(e -> e.references().getLast()).toList();
        assertThat(dart.scoreGenerations(second, test)).containsOnlyKeys("bleu", "sacrebleu")
                .containsEntry("bleu", 1.0).hasEntrySatisfying("sacrebleu", b -> assertThat(b).isCloseTo(100.0,
                        within(1e-9)));
    }

    @Test
    void glueReadsFilesWithAndWithoutHeadersAndMnliTestIsMatchedThenMismatched() throws Exception {
        BenchmarkTask cola = open("glue/cola", "glue");
        assertThat(cola.examples(Split.TEST)).extracting(Example::output).containsExactly("1", "0");
        assertThat(cola.mainScore()).isEqualTo("mcc");
        BenchmarkTask sst2 = open("glue/sst2", "glue");
        assertThat(sst2.examples(Split.TEST)).extracting(Example::output).containsExactly("1", "0");
        BenchmarkTask mnli = open("glue/mnli", "glue");
        assertThat(mnli.classes()).isEqualTo(3);
        assertThat(mnli.examples(Split.TEST)).extracting(Example::output).containsExactly("1", "2", "2");
        assertThat(mnli.examples(Split.TEST).getLast().input())
                .isEqualTo("Your contribution helped make it possible.###Your contributions were of no help.");
        assertThat(mnli.examples(Split.TRAIN).size() + mnli.examples(Split.VALIDATION).size()).isEqualTo(5);
    }

    @Test
    void glueRemovesOutOfClassPredictionsBeforeScoringAndCountsThem() throws Exception {
        BenchmarkTask mrpc = open("glue/mrpc", "glue");
        // gold 1 0 1 1; the second and third predictions are no class token
        Map<String, Double> s = mrpc.scoreClasses(new int[] {1, -1, -1, 0}, new int[] {1, 0, 1, 1});
        assertThat(s).containsOnlyKeys("accuracy", "f1", "out_of_class");
        assertThat(s.get("accuracy")).isEqualTo(0.5);
        assertThat(s.get("f1")).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(s.get("out_of_class")).isEqualTo(2.0);
    }

    @Test
    void stsbIsGeneratedAndScoredByPearsonOnTheNumbersThatParse() throws Exception {
        BenchmarkTask stsb = open("glue/stsb", "glue");
        assertThat(stsb.classification()).as("a number is generated, not read at the label position").isFalse();
        assertThat(stsb.mainScore()).isEqualTo("pearson");
        assertThat(stsb.format().eosAfterLabel()).isTrue();
        List<Example> test = stsb.examples(Split.TEST);
        assertThat(test).extracting(Example::output).containsExactly("5.0", "0.0", "4.6");
        assertThat(stsb.examples(Split.TRAIN).size() + stsb.examples(Split.VALIDATION).size()).isEqualTo(3);
        // gold 5.000, 0.000, 4.600: the rounded targets themselves correlate perfectly
        assertThat(stsb.scoreGenerations(test.stream().map(Example::output).toList(), test))
                .containsOnlyKeys("pearson", "spearmanr", "out_of_class").containsEntry("out_of_class", 0.0)
                .hasEntrySatisfying("pearson", r -> assertThat(r).isCloseTo(1.0, within(1e-12)));
        // "high" is no number: removed with its gold (0.0); 4.0 vs 5.0 and 4.5 vs 4.6 keep their order
        Map<String, Double> s = stsb.scoreGenerations(List.of("4.0", "high", "4.5"), test);
        assertThat(s.get("out_of_class")).isEqualTo(1.0);
        assertThat(s.get("pearson")).as("two pairs in opposite order").isCloseTo(-1.0, within(1e-12));
        assertThat(s.get("spearmanr")).isCloseTo(-1.0, within(1e-12));
        Map<String, Double> none = stsb.scoreGenerations(List.of("a", "b", "c"), test);
        assertThat(none).containsEntry("out_of_class", 3.0).containsEntry("pearson", 0.0);
    }

    @Test
    void anUnknownTaskListsTheInstalledOnes() {
        assertThatThrownBy(() -> BenchmarkTask.open("glue/foo", sample("glue"), BenchmarkTask.Options.DEFAULTS))
                .hasMessageContaining("unknown task 'glue/foo'; installed: sql, triples, sentiment, spider, samsum,"
                        + " dart, glue/cola, glue/sst2");
        assertThatThrownBy(() -> BenchmarkTask.open("spyder", sample("glue"), BenchmarkTask.Options.DEFAULTS))
                .hasMessageContaining("unknown task 'spyder'; installed: ").hasMessageContaining("glue/mnli, ")
                .hasMessageContaining("jsonl");
    }

    @Test
    void aFolderWithoutThePublishedFilesIsRefusedNamingThem(@TempDir Path empty) {
        assertThatThrownBy(() -> BenchmarkTask.open("spider", empty, BenchmarkTask.Options.DEFAULTS))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("the data folder holds no train_spider.json, no dev.json, no tables.json, no"
                        + " database/; expected the published spider layout");
        assertThatThrownBy(() -> BenchmarkTask.open("glue/mnli", sample("glue").resolve("MNLI"),
                BenchmarkTask.Options.DEFAULTS)).hasMessageContaining("no MNLI/train.tsv");
        assertThatThrownBy(() -> BenchmarkTask.open("dart", null, BenchmarkTask.Options.DEFAULTS))
                .hasMessageContaining("task dart reads the published files: give --data DIR");
    }
}
