package org.ssmpeft.examples.tasks;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.metrics.Bleu;
import org.ssmpeft.runtime.metrics.Classification;
import org.ssmpeft.runtime.metrics.Rouge;
import org.ssmpeft.runtime.metrics.SqlExactMatch;
import org.ssmpeft.runtime.metrics.SqlExecution;

/**
 * A bundled task's files in {@code dir} (written by {@link TaskFiles#write}), scored as the bundled default reports:
 * <ul>
 *   <li>sql: {@code execution_accuracy} on the task database ({@link SqlExecution}) and {@code exact_match}
 *       ({@link SqlExactMatch});</li>
 *   <li>triples: {@code bleu} (sacreBLEU corpus BLEU, 0-100, every reference) and {@code rougeL} (fraction, best
 *       reference);</li>
 *   <li>sentiment: {@code accuracy}, {@code f1} (class 1) and {@code mcc}; a prediction that is not a class digit is
 *       wrong (and counted in {@code out_of_class}).</li>
 * </ul>
 */
public record BundledSource(BundledTask task, Path dir) implements TaskSource {

    @Override
    public String name() {
        return task.name();
    }

    @Override
    public String description() {
        return task.description();
    }

    @Override
    public String mainScore() {
        return task.mainScore();
    }

    @Override
    public PromptFormat format() {
        return task.format();
    }

    @Override
    public boolean classification() {
        return task.classification();
    }

    @Override
    public List<Example> examples(Split split) throws IOException {
        return TaskFiles.read(task, dir, split).examples();
    }

    @Override
    public Map<String, Double> scoreGenerations(List<String> predictions, List<Example> examples) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (task instanceof SqlTask) {
            List<String> gold = examples.stream().map(Example::output).toList();
            try (SqlExecution sql = SqlExecution.open(dir.resolve(SqlTask.DATABASE))) {
                out.put("execution_accuracy", sql.accuracy(predictions, gold));
            } catch (SQLException ex) {
                throw new IllegalStateException("cannot open the task database: " + ex.getMessage(), ex);
            }
            out.put("exact_match", SqlExactMatch.score(predictions, gold));
        } else {
            List<List<String>> refs = examples.stream().map(Example::references).toList();
            out.put("bleu", Bleu.corpus().corpusScore(predictions, refs).score());
            out.put("rougeL", Rouge.corpusMulti(predictions, refs).rougeL());
        }
        return out;
    }

    @Override
    public Map<String, Double> scoreClasses(int[] predicted, int[] gold) {
        long tp = 0;
        long tn = 0;
        long fp = 0;
        long fn = 0;
        int outOfClass = 0;
        for (int i = 0; i < gold.length; i++) {
            if (predicted[i] < 0) {
                outOfClass++;
            }
            boolean right = predicted[i] == gold[i];
            if (gold[i] == 1) {
                if (right) {
                    tp++;
                } else {
                    fn++;
                }
            } else if (right) {
                tn++;
            } else {
                fp++;
            }
        }
        int n = gold.length;
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("accuracy", (double) (tp + tn) / n);
        out.put("f1", tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn));
        out.put("mcc", Classification.matthewsCorrelation(tp, tn, fp, fn));
        out.put("out_of_class", (double) outOfClass);
        return out;
    }
}
