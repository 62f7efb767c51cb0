package org.ssmpeft.examples.tasks;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.metrics.SqlExecution;
import org.ssmpeft.runtime.tokenize.ByteTokenizer;

class BundledTasksTest {

    @Test
    void generatorsAreDeterministicGivenTheSeed() {
        for (BundledTask t : BundledTasks.ALL) {
            var a = TaskFiles.generate(t, 1, 200, 20, 50);
            var b = TaskFiles.generate(t, 1, 200, 20, 50);
            var c = TaskFiles.generate(t, 2, 200, 20, 50);
            assertThat(a).as(t.name()).isEqualTo(b);
            assertThat(a.test()).as(t.name()).isNotEqualTo(c.test());
            assertThat(a.train()).hasSize(200);
            assertThat(a.validation()).hasSize(20);
            assertThat(a.test()).hasSize(50);
        }
    }

    @Test
    void heldOutItemsAreNeverTrainingOrPretrainingItems() {
        for (BundledTask t : BundledTasks.ALL) {
            var s = TaskFiles.generate(t, 1, TaskFiles.TRAIN, TaskFiles.VALIDATION, TaskFiles.TEST);
            Set<String> train = new HashSet<>();
            s.train().forEach(e -> train.add(e.input()));
            Set<String> held = new HashSet<>();
            s.validation().forEach(e -> held.add(e.input()));
            s.test().forEach(e -> held.add(e.input()));
            assertThat(held).as(t.name()).hasSize(TaskFiles.VALIDATION + TaskFiles.TEST).doesNotContainAnyElementsOf(
                    train);
            assertThat(held).allMatch(TaskFiles::heldOut);
            assertThat(train).noneMatch(TaskFiles::heldOut);
        }
    }

    @Test
    void thePretrainingTextHoldsNoHeldOutItem() {
        var corpus = new org.ssmpeft.examples.bundled.PretrainCorpus(ByteTokenizer.standard(), 8, 100);
        List<String> held = new java.util.ArrayList<>();
        for (BundledTask t : BundledTasks.ALL) {
            var s = TaskFiles.generate(t, 1, 10, TaskFiles.VALIDATION, TaskFiles.TEST);
            s.validation().forEach(e -> held.add(t.format().inputText(e)));
            s.test().forEach(e -> held.add(t.format().inputText(e)));
        }
        for (int i = 0; i < 2000; i++) {
            String row = corpus.sample(i);
            assertThat(held).noneMatch(row::contains);
        }
    }

    @Test
    void examplesAreShortInBytes() {
        ByteTokenizer tok = ByteTokenizer.standard();
        for (BundledTask t : BundledTasks.ALL) {
            for (Example e : TaskFiles.generate(t, 3, 300, 0, 0).train()) {
                assertThat(tok.encode(t.format().render(e)).length).as(t.name()).isLessThan(200);
            }
        }
    }

    @Test
    void everyGoldQueryExecutesAndReturnsRows(@TempDir Path dir) throws Exception {
        SqlTask sql = new SqlTask();
        TaskFiles.write(sql, 1, dir);
        Set<String> templates = new HashSet<>();
        try (SqlExecution db = SqlExecution.open(dir.resolve(SqlTask.DATABASE))) {
            for (Split split : Split.values()) {
                for (Example e : TaskFiles.read(sql, dir, split).examples()) {
                    var rows = db.denotation(e.output());
                    assertThat(rows).as(e.output()).isPresent();
                    assertThat(rows.get()).as(e.output()).isNotEmpty();
                    templates.add(e.field("template").orElseThrow());
                }
            }
            assertThat(db.matches("select count(*) from employees where dept = 'sales'",
                    "select count(*) from employees where dept = 'sales'")).isTrue();
        }
        assertThat(templates).hasSize(SqlTask.TEMPLATES);
    }

    @Test
    void triplesHaveTwoNonEmptyReferencesAndTrainingIsExploded(@TempDir Path dir) throws Exception {
        TriplesTask t = new TriplesTask();
        TaskFiles.write(t, 1, dir);
        for (Example e : TaskFiles.read(t, dir, Split.TEST).examples()) {
            assertThat(e.references()).hasSize(2).allMatch(r -> !r.isBlank() && r.endsWith("."));
            assertThat(e.input()).contains(" : ");
        }
        assertThat(TaskFiles.read(t, dir, Split.TRAIN).examples()).allMatch(e -> e.references().size() == 1);
        assertThat(t.format().prefix()).isEqualTo("Generate text for the following RDF triples:\n");
    }

    @Test
    void sentimentLabelsAreDigitsOfBothClassesAndFollowTheRule() {
        var s = TaskFiles.generate(new SentimentTask(), 1, 500, 0, 100);
        assertThat(s.train()).extracting(Example::output).containsOnly("0", "1").contains("0", "1");
        Example e = new SentimentTask().draw(new SplittableRandom(5), false);
        int score = 0;
        for (String clause : e.input().split(" (and|but) ")) {
            boolean positive = SentimentTask.POSITIVE.stream().anyMatch(clause::endsWith);
            score += (positive != clause.contains(" not ")) ? 1 : -1;
        }
        assertThat(e.output()).isEqualTo(score > 0 ? "1" : "0");
    }

    @Test
    void pretrainingDrawsUseOnlyTheEarlyTemplates() {
        SplittableRandom rng = new SplittableRandom(9);
        List<Example> sql = java.util.stream.IntStream.range(0, 300).mapToObj(i -> new SqlTask().draw(rng, true))
                .toList();
        assertThat(sql).allMatch(e -> Integer.parseInt(e.field("template").orElseThrow())
                < SqlTask.PRETRAIN_TEMPLATES);
    }
}
