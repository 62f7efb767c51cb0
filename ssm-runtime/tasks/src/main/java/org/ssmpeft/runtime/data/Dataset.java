package org.ssmpeft.runtime.data;

import java.util.List;

/**
 * The examples of one split of a task, with the prompt format the paper code trains it with.
 *
 * @param name the task ({@code spider}, {@code samsum}, {@code dart}, {@code glue-rte}, {@code jsonl}...)
 * @param split which published split the examples come from
 * @param mode one example per reference ({@link Mode#TRAIN}) or per source ({@link Mode#GENERATE})
 * @param format how an example becomes tokens
 * @param examples in file order
 */
public record Dataset(String name, Split split, Mode mode, PromptFormat format, List<Example> examples) {

    public Dataset {
        examples = List.copyOf(examples);
    }

    public int size() {
        return examples.size();
    }
}
