package org.ssmpeft.examples.tasks;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;

/**
 * A task the project generates itself, mirroring one of the paper's task kinds. A generator is deterministic given
 * its seed. Every item has a key (its input text); items whose key falls in the held-out bucket
 * ({@link TaskFiles#heldOut}) go only to the validation and test splits, the others only to training and to the
 * pre-training text, whatever the seed: evaluation items are never seen in training or pre-training.
 */
public interface BundledTask {

    /** The name used by {@code --task}. */
    String name();

    /** One line for listings. */
    String description();

    /** How examples become tokens (the prompt format of the paper code's task kind it mirrors). */
    PromptFormat format();

    /** The score {@code compare} ranks by (higher is better). */
    String mainScore();

    /** Whether this is a classification task (scored at the label position, no generation). */
    boolean classification();

    /**
     * One random item. {@code pretraining} restricts it to the part of the task the bundled base model is
     * pre-trained on (a subset of templates), so that fine-tuning has something to add.
     */
    Example draw(SplittableRandom rng, boolean pretraining);

    /** Generic sentences about this task's world, for the pre-training text. */
    String sentence(SplittableRandom rng);

    /** Training examples from a generation-mode example: one per reference (as the paper code trains DART). */
    default List<Example> explode(Example e) {
        if (e.references().size() <= 1) {
            return List.of(e);
        }
        return e.references().stream().map(r -> new Example(e.input(), r, List.of(r), e.fields())).toList();
    }

    /** Writes what the task needs besides its JSONL files (the SQLite database); nothing by default. */
    default void writeResources(Path dir) throws IOException {
    }

    /** The names of the files {@link #writeResources} writes, which a data folder of this task must hold. */
    default List<String> resourceFiles() {
        return List.of();
    }
}
