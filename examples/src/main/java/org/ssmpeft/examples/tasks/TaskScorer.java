package org.ssmpeft.examples.tasks;

import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.generate.Generator;
import org.ssmpeft.runtime.metrics.Bleu;
import org.ssmpeft.runtime.metrics.Classification;
import org.ssmpeft.runtime.metrics.Rouge;
import org.ssmpeft.runtime.metrics.SqlExactMatch;
import org.ssmpeft.runtime.metrics.SqlExecution;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.train.Evaluator;

/**
 * Scores a model (with its acting adapters) on a bundled task's held-out examples:
 * <ul>
 *   <li>sql: greedy (or beam) decoding to eos, {@code execution_accuracy} on the task database
 *       ({@link SqlExecution}) and {@code exact_match} ({@link SqlExactMatch});</li>
 *   <li>triples: decoding, {@code bleu} (sacreBLEU corpus BLEU, 0-100, both references) and {@code rougeL}
 *       (fraction, best reference);</li>
 *   <li>sentiment: arg-max over the vocabulary at the label position, {@code accuracy}, {@code f1} (class 1) and
 *       {@code mcc}; a prediction that is not a class digit is wrong (counted in {@code out_of_class}).</li>
 * </ul>
 * Also usable as the trainer's {@link Evaluator}.
 */
public final class TaskScorer implements Evaluator {

    /** One example's prediction, for printing. */
    public record Prediction(Example example, String text) {
    }

    private final BundledTask task;
    private final Path dataDir;
    private final Tokenizer tokenizer;
    private final Encoder encoder;
    private final List<Example> examples;
    private final GenerationOptions generation;
    private List<Prediction> last = List.of();

    public TaskScorer(BundledTask task, Path dataDir, Tokenizer tokenizer, List<Example> examples,
                      GenerationOptions generation) {
        this.task = task;
        this.dataDir = dataDir;
        this.tokenizer = tokenizer;
        this.encoder = new Encoder(tokenizer, task.format());
        this.examples = List.copyOf(examples);
        this.generation = generation;
    }

    /** Greedy decoding of at most 96 new tokens, stopping at eos. */
    public static GenerationOptions defaultGeneration(Tokenizer tokenizer) {
        return GenerationOptions.greedy(96, tokenizer.requireEos());
    }

    /** The predictions of the latest evaluation. */
    public List<Prediction> lastPredictions() {
        return last;
    }

    @Override
    public Map<String, Double> evaluate(SsmModel model, AdapterSet adapters, int step) {
        return task.classification() ? classify(model, adapters) : generate(model, adapters);
    }

    private Map<String, Double> classify(SsmModel model, AdapterSet adapters) {
        int n = examples.size();
        int[] predicted = new int[n];
        int[] gold = new int[n];
        int zero = tokenizer.encode("0")[0];
        int one = tokenizer.encode("1")[0];
        List<Prediction> preds = new ArrayList<>();
        int outOfClass = 0;
        final int batch = 16;
        for (int start = 0; start < n; start += batch) {
            int rows = Math.min(batch, n - start);
            int[][] prompts = new int[rows][];
            int width = 0;
            for (int r = 0; r < rows; r++) {
                prompts[r] = encoder.prompt(examples.get(start + r));
                width = Math.max(width, prompts[r].length);
            }
            int[][] padded = new int[rows][width];
            for (int r = 0; r < rows; r++) {
                // right padding: a causal model's logits at a row's last real position do not see the padding
                java.util.Arrays.fill(padded[r], tokenizer.padId().orElse(0));
                System.arraycopy(prompts[r], 0, padded[r], 0, prompts[r].length);
            }
            Logits logits = model.forward(padded, adapters);
            for (int r = 0; r < rows; r++) {
                float[] l = logits.at(r, logits.virtualTokens() + prompts[r].length - 1);
                int best = 0;
                for (int v = 1; v < l.length; v++) {
                    if (l[v] > l[best]) {
                        best = v;
                    }
                }
                int i = start + r;
                predicted[i] = best == zero ? 0 : best == one ? 1 : -1;
                if (predicted[i] < 0) {
                    outOfClass++;
                }
                gold[i] = Integer.parseInt(examples.get(i).output().trim());
                preds.add(new Prediction(examples.get(i), tokenizer.decode(new int[] {best}, false)));
            }
        }
        last = List.copyOf(preds);
        long tp = 0;
        long tn = 0;
        long fp = 0;
        long fn = 0;
        for (int i = 0; i < n; i++) {
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
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("accuracy", (double) (tp + tn) / n);
        out.put("f1", tp == 0 ? 0.0 : 2.0 * tp / (2.0 * tp + fp + fn));
        out.put("mcc", Classification.matthewsCorrelation(tp, tn, fp, fn));
        out.put("out_of_class", (double) outOfClass);
        return out;
    }

    private Map<String, Double> generate(SsmModel model, AdapterSet adapters) {
        Generator generator = new Generator(model, adapters);
        List<String> predictions = new ArrayList<>();
        List<Prediction> preds = new ArrayList<>();
        for (Example e : examples) {
            int[] tokens = generator.generate(encoder.prompt(e), generation).tokens();
            String text = tokenizer.decode(tokens, true).strip();
            predictions.add(text);
            preds.add(new Prediction(e, text));
        }
        last = List.copyOf(preds);
        Map<String, Double> out = new LinkedHashMap<>();
        if (task instanceof SqlTask) {
            List<String> gold = examples.stream().map(Example::output).toList();
            try (SqlExecution sql = SqlExecution.open(dataDir.resolve(SqlTask.DATABASE))) {
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
}
