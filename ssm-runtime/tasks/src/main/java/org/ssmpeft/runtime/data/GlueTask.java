package org.ssmpeft.runtime.data;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The GLUE tasks of the paper, each with its file layout in the GLUE distribution ({@code <Task>/train.tsv},
 * {@code dev.tsv}; MNLI {@code dev_matched.tsv}, {@code dev_mismatched.tsv}), its label mapping (the class index of
 * Hugging Face {@code nyu-mll/glue}) and its PromptBench instruction exactly as in the paper code's
 * {@code dataset/glue.py} (which cites microsoft/promptbench).
 *
 * <p>Columns: CoLA has no header (source, label, original judgement, sentence); the others have a header row and are
 * read by column name: SST-2 {@code sentence, label}; MRPC {@code Quality, #1 ID, #2 ID, #1 String, #2 String};
 * QQP {@code id, qid1, qid2, question1, question2, is_duplicate}; QNLI {@code index, question, sentence, label};
 * RTE and WNLI {@code index, sentence1, sentence2, label}; MNLI {@code ..., sentence1, sentence2, ..., gold_label};
 * STS-B {@code index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score}.
 *
 * <p>STS-B is the one regression task (a similarity score in [0, 5]). Neither the paper code
 * (furiosa-ai/ssm-state-tuning {@code dataset/glue.py}) nor its predecessor furiosa-ai/ssm-peft includes it, and
 * PromptBench has no instruction for it: its instruction here is this project's, written in the style of the others,
 * and its target is generated text ({@link GlueData#similarityTarget}), not a class digit.
 */
public enum GlueTask {

    COLA("CoLA", "Review the sentence below and identify whether its grammar is Unacceptable or Acceptable."
            + " Respond with '0' if Unacceptable or '1' if Acceptable: ",
            null, null, null, List.of("0", "1")),
    SST2("SST-2", "Read the provided excerpt and choose between negative and positive to describe its sentiment."
            + " Respond with '0' if negative or '1' if positive: ",
            "sentence", null, "label", List.of("0", "1")),
    MRPC("MRPC", "Can the given sentences be considered semantically identical? Respond with '0' if not_equivalent"
            + " or '1' if equivalent: ",
            "#1 String", "#2 String", "Quality", List.of("0", "1")),
    QQP("QQP", "Can these two statements be considered equal in meaning? Respond with '0' if not_equivalent or '1'"
            + " if equivalent: ",
            "question1", "question2", "is_duplicate", List.of("0", "1")),
    QNLI("QNLI", "Consider the context and question, and indicate if the answer can be logically deduced from the"
            + " context. Respond with '0' if entailment or '1' if not_entailment: ",
            "question", "sentence", "label", List.of("entailment", "not_entailment")),
    RTE("RTE", "Determine if the given pair of sentences displays entailment or not_entailment. Respond with '0' if"
            + " entailment or '1' if not_entailment: ",
            "sentence1", "sentence2", "label", List.of("entailment", "not_entailment")),
    MNLI("MNLI", "Assess the connection between the following sentences and classify it as entailment, neutral, or"
            + " contradiction. Respond with '0' if entailment, '1' if neutral or '2' if contradiction: ",
            "sentence1", "sentence2", "gold_label", List.of("entailment", "neutral", "contradiction")),
    WNLI("WNLI", "Identify whether the given pair of sentences demonstrates entailment or not_entailment. Respond"
            + " with '0' if not_entailment or '1' if entailment: ",
            "sentence1", "sentence2", "label", List.of("0", "1")),
    STSB("STS-B", "Rate how similar in meaning the given pair of sentences is, from 0 (unrelated) to 5 (equivalent)."
            + " Respond with the score as a number with one decimal, such as '3.8': ",
            "sentence1", "sentence2", "score", List.of());

    /** CoLA's columns, by position (its TSVs have no header). */
    static final int COLA_LABEL_COLUMN = 1;
    static final int COLA_SENTENCE_COLUMN = 3;

    private final String directory;
    private final String instruction;
    private final String firstColumn;
    private final String secondColumn;
    private final String labelColumn;
    private final List<String> labels;

    GlueTask(String directory, String instruction, String firstColumn, String secondColumn, String labelColumn,
             List<String> labels) {
        this.directory = directory;
        this.instruction = instruction;
        this.firstColumn = firstColumn;
        this.secondColumn = secondColumn;
        this.labelColumn = labelColumn;
        this.labels = labels;
    }

    /** The task's folder in the GLUE distribution ({@code CoLA}, {@code SST-2}, ...). */
    public String directory() {
        return directory;
    }

    /** The PromptBench instruction written before the input (ends with {@code ": "}). */
    public String instruction() {
        return instruction;
    }

    /**
     * The label values of the TSV in class order: class i is written as the digit i; empty for STS-B, whose label is a
     * score ({@link #regression()}).
     */
    public List<String> labels() {
        return labels;
    }

    /** Whether the label is a number to generate (STS-B's similarity score) rather than a class. */
    public boolean regression() {
        return this == STSB;
    }

    /** Whether the TSVs start with a header row (all but CoLA). */
    public boolean hasHeader() {
        return this != COLA;
    }

    /** The header name of the (first) sentence column; CoLA has none. */
    public Optional<String> firstColumn() {
        return Optional.ofNullable(firstColumn);
    }

    /** The header name of the second sentence, for sentence-pair tasks. */
    public Optional<String> secondColumn() {
        return Optional.ofNullable(secondColumn);
    }

    /** The header name of the label column; CoLA has none. */
    public Optional<String> labelColumn() {
        return Optional.ofNullable(labelColumn);
    }

    /** The short name: {@code cola}, {@code sst2}, {@code mrpc}, {@code qqp}, {@code qnli}, {@code rte}, {@code stsb}... */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The task of a short name ({@code rte}, {@code sst2}, {@code sst-2}, {@code sts-b}, any case). */
    public static GlueTask forName(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace("-", "");
        for (GlueTask t : values()) {
            if (t.id().equals(n)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown GLUE task '" + name + "'; known: "
                + String.join(", ", java.util.Arrays.stream(values()).map(GlueTask::id).toList()));
    }
}
