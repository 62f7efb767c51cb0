package org.ssmpeft.examples.tasks;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;
import org.ssmpeft.runtime.data.Split;

/**
 * A task as {@code peft train}, {@code eval} and {@code compare} use it, whatever its origin: a bundled task
 * ({@link BundledSource}) or a published benchmark read from the user's folder ({@link BenchmarkTask}). It gives the
 * examples of each split, how they become tokens, and how predictions are scored. A task's folder is only read.
 */
public interface TaskSource {

    /** The name given to {@code --task} ({@code sql}, {@code spider}, {@code glue/rte}...). */
    String name();

    /** One line for reports. */
    String description();

    /** The score {@code compare} ranks by (higher is better). */
    String mainScore();

    /** How examples become tokens. */
    PromptFormat format();

    /** Whether predictions are read at the label position (a class digit) rather than generated. */
    boolean classification();

    /** The number of classes (digits {@code 0..classes-1}) of a classification task. */
    default int classes() {
        return 2;
    }

    /** Training examples drop out beyond this many tokens (prompt + label); 0 for no bound. */
    default int maxLength() {
        return 0;
    }

    /** The examples of a split: training examples (one per reference) for TRAIN, scoring examples otherwise. */
    List<Example> examples(Split split) throws IOException;

    /** The scores of generated texts, parallel to {@code examples}. */
    Map<String, Double> scoreGenerations(List<String> predictions, List<Example> examples);

    /**
     * The scores of predicted classes against the examples' gold classes; a prediction of {@code -1} is no class
     * token (out of class). The map ends with {@code out_of_class}, the count of those.
     */
    Map<String, Double> scoreClasses(int[] predicted, int[] gold);
}
