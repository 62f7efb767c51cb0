package org.ssmpeft.examples.tasks;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.data.Encoder;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.generate.GenerationOptions;
import org.ssmpeft.runtime.generate.Generator;
import org.ssmpeft.runtime.tokenize.Tokenizer;
import org.ssmpeft.runtime.train.Evaluator;

/**
 * Scores a model (with its acting adapters) on a task's held-out examples: a generation task by greedy (or beam)
 * decoding to eos, a classification task by the arg-max over the whole vocabulary at the label position (a class
 * digit, else out of class); the task ({@link TaskSource}) turns the predictions into scores. Also usable as the
 * trainer's {@link Evaluator}.
 */
public final class TaskScorer implements Evaluator {

    /** One example's prediction, for printing. */
    public record Prediction(Example example, String text) {
    }

    private final TaskSource task;
    private final Tokenizer tokenizer;
    private final Encoder encoder;
    private final List<Example> examples;
    private final GenerationOptions generation;
    private List<Prediction> last = List.of();

    public TaskScorer(TaskSource task, Tokenizer tokenizer, List<Example> examples, GenerationOptions generation) {
        this.task = task;
        this.tokenizer = tokenizer;
        this.encoder = new Encoder(tokenizer, task.format());
        this.examples = List.copyOf(examples);
        this.generation = generation;
    }

    /** A bundled task's files in {@code dataDir}. */
    public TaskScorer(BundledTask task, Path dataDir, Tokenizer tokenizer, List<Example> examples,
                      GenerationOptions generation) {
        this(new BundledSource(task, dataDir), tokenizer, examples, generation);
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
        int[] classToken = new int[task.classes()];
        for (int c = 0; c < classToken.length; c++) {
            classToken[c] = tokenizer.encode(Integer.toString(c))[0];
        }
        List<Prediction> preds = new ArrayList<>();
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
                predicted[i] = -1;
                for (int c = 0; c < classToken.length; c++) {
                    if (best == classToken[c]) {
                        predicted[i] = c;
                    }
                }
                gold[i] = Integer.parseInt(examples.get(i).output().trim());
                preds.add(new Prediction(examples.get(i), tokenizer.decode(new int[] {best}, false)));
            }
        }
        last = List.copyOf(preds);
        return task.scoreClasses(predicted, gold);
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
        return task.scoreGenerations(predictions, examples);
    }
}
