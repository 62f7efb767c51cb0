package org.ssmpeft.examples.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;

/**
 * Sentiment classification of short generated reviews (GLUE SST-2's task kind), scored by accuracy, F1 (positive =
 * 1) and Matthews correlation.
 *
 * <p>A review is 1 or 3 clauses "the NOUN was [not] ADJ" joined by "and" / "but"; each clause's polarity is the
 * adjective's, flipped by "not"; the label is the majority polarity (1 positive, 0 negative). Prompt: a GLUE-style
 * instruction (shorter than PromptBench's, to keep sequences short) + the review + {@code ###}, label the class digit
 * without eos; the prediction is the arg-max over the whole vocabulary at the label position, as the paper code does
 * (a non-digit counts as wrong here, where the paper code drops it). The base model is pre-trained on single clauses
 * without "not" only.
 */
public final class SentimentTask implements BundledTask {

    public static final String INSTRUCTION = "Is this review negative or positive? Answer 0 or 1: ";

    static final List<String> NOUNS = List.of("food", "room", "staff", "view", "music", "service", "bed", "coffee",
            "price", "show");
    static final List<String> POSITIVE = List.of("great", "lovely", "superb", "friendly", "clean", "fine", "warm");
    static final List<String> NEGATIVE = List.of("awful", "rude", "dirty", "bland", "noisy", "poor", "cold");

    @Override
    public String name() {
        return "sentiment";
    }

    @Override
    public String description() {
        return "classification: sentiment of 1-3 clause reviews with negation (GLUE-style label digit); accuracy, F1, MCC";
    }

    @Override
    public PromptFormat format() {
        return PromptFormat.classification(INSTRUCTION);
    }

    @Override
    public String mainScore() {
        return "accuracy";
    }

    @Override
    public boolean classification() {
        return true;
    }

    @Override
    public Example draw(SplittableRandom rng, boolean pretraining) {
        int clauses = pretraining ? 1 : (rng.nextInt(3) == 0 ? 1 : 3);
        List<String> parts = new ArrayList<>();
        int score = 0;
        for (int i = 0; i < clauses; i++) {
            boolean positive = rng.nextBoolean();
            boolean not = !pretraining && rng.nextInt(3) == 0;
            String adj = BundledTasks.pick(rng, positive ? POSITIVE : NEGATIVE);
            String clause = "the " + BundledTasks.pick(rng, NOUNS) + " was " + (not ? "not " : "") + adj;
            score += (positive != not) ? 1 : -1;
            if (i > 0) {
                parts.add(rng.nextBoolean() ? "and" : "but");
            }
            parts.add(clause);
        }
        return new Example(String.join(" ", parts), score > 0 ? "1" : "0", Map.of());
    }

    @Override
    public String sentence(SplittableRandom rng) {
        boolean positive = rng.nextBoolean();
        String adj = BundledTasks.pick(rng, positive ? POSITIVE : NEGATIVE);
        return "the " + BundledTasks.pick(rng, NOUNS) + " was " + adj + (positive ? ", we liked it." : ", we did not"
                + " like it.");
    }
}
