package org.ssmpeft.runtime.data;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One task example before prompting: the task's input text and its target output, as the paper code's
 * {@code get_input_label} returns them (the prompt prefix, instruction, {@code ###} separator and eos are added by the
 * {@link PromptFormat}).
 *
 * @param input the task input (e.g. Spider's {@code Question: ...\Schema: ...\n}, DART's linearised triples)
 * @param output the training target (Spider: the lower-cased SQL; GLUE: the class digit); in generation mode of a
 *     multi-reference task, the references joined by {@code ###} as the paper code does
 * @param references every acceptable output, for scoring; a single-reference example has {@code [output]}
 * @param fields further values of the record (Spider {@code db_id} and {@code database}, SAMSum {@code id}, ...)
 */
public record Example(String input, String output, List<String> references, Map<String, String> fields) {

    public Example {
        if (input == null || output == null || references == null || fields == null) {
            throw new IllegalArgumentException("input, output, references and fields must not be null");
        }
        references = references.isEmpty() ? List.of(output) : List.copyOf(references);
        fields = Map.copyOf(fields);
    }

    /** A single-reference example without fields. */
    public Example(String input, String output) {
        this(input, output, List.of(), Map.of());
    }

    /** A single-reference example with fields. */
    public Example(String input, String output, Map<String, String> fields) {
        this(input, output, List.of(), fields);
    }

    /** The value of a field, if the record had it. */
    public Optional<String> field(String name) {
        return Optional.ofNullable(fields.get(name));
    }
}
