package org.ssmpeft.examples.tasks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import org.ssmpeft.runtime.data.DartData;
import org.ssmpeft.runtime.data.Dataset;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.GlueData;
import org.ssmpeft.runtime.data.GlueTask;
import org.ssmpeft.runtime.data.JsonlData;
import org.ssmpeft.runtime.data.Mode;
import org.ssmpeft.runtime.data.PromptFormat;
import org.ssmpeft.runtime.data.SamsumData;
import org.ssmpeft.runtime.data.ShuffleOrder;
import org.ssmpeft.runtime.data.SpiderData;
import org.ssmpeft.runtime.data.Split;
import org.ssmpeft.runtime.data.Tasks;
import org.ssmpeft.runtime.metrics.Bleu;
import org.ssmpeft.runtime.metrics.Classification;
import org.ssmpeft.runtime.metrics.Correlation;
import org.ssmpeft.runtime.metrics.ExactMatch;
import org.ssmpeft.runtime.metrics.Rouge;
import org.ssmpeft.runtime.metrics.Score;
import org.ssmpeft.runtime.metrics.SpiderScores;

/**
 * A published benchmark read from the user's folder (never written into), with the paper code's prompts, splits and
 * metrics (paper.md §9-10):
 * <ul>
 *   <li>{@code spider}: {@code train_spider.json}, {@code dev.json}, {@code tables.json},
 *       {@code database/<db_id>/<db_id>.sqlite}; test = dev.json; {@code execution_accuracy} on each example's own
 *       database and {@code exact_set_match} (the official evaluation's exact matching without values), each also
 *       per hardness where the records carry their parsed {@code sql}, always against the published gold query as written (the training target
 *       is lower-cased only with {@link SpiderData.Target#LOWER_CASED});</li>
 *   <li>{@code samsum}: {@code train.json}, {@code val.json}, {@code test.json}; ROUGE-1/2/L/Lsum;</li>
 *   <li>{@code dart}: {@code dart-v1.1.1-full-{train,dev,test}.json}; training on every annotation, scoring against
 *       all references: {@code bleu} (HF evaluate's, the paper's number, a fraction) and {@code sacrebleu}
 *       (0-100);</li>
 *   <li>{@code glue/<task>}: the GLUE root holding {@code <Task>/train.tsv} and {@code dev.tsv} (MNLI:
 *       {@code dev_matched.tsv} + {@code dev_mismatched.tsv}); test = dev; the arg-max at the label position,
 *       out-of-class predictions removed before scoring (with their references) and counted; CoLA {@code mcc}, MRPC/QQP
 *       {@code accuracy} and {@code f1}, the others {@code accuracy}; STS-B, a regression, is generated instead
 *       (the score as text) and scored by {@code pearson} (the main score) and {@code spearmanr}, a text that is no
 *       number being out of class;</li>
 *   <li>{@code jsonl}: {@code train.jsonl}, {@code validation.jsonl}, {@code test.jsonl} ({@link JsonlData});
 *       {@code exact_match}, {@code bleu} (sacreBLEU) and {@code rougeL}.</li>
 * </ul>
 * Where the published test set has no labels (Spider, GLUE) the published dev set is the test split and validation is
 * a seeded 80/20 split of the training file ({@link #VALIDATION_SEED}, {@link #VALIDATION_FRACTION}), as the paper's
 * "-tvt" splits; SAMSum and DART keep their published validation and test files.
 */
public final class BenchmarkTask implements TaskSource {

    /** The seed of the 80/20 train/validation split of the training file (the paper's "-tvt" splits). */
    public static final long VALIDATION_SEED = 123;

    /** The part of the training file held out for validation. */
    public static final double VALIDATION_FRACTION = 0.2;

    /** The benchmark names {@link #open} accepts. */
    public static final List<String> NAMES;

    static {
        List<String> names = new ArrayList<>(List.of("spider", "samsum", "dart"));
        for (GlueTask t : GlueTask.values()) {
            names.add("glue/" + t.id());
        }
        names.add("jsonl");
        NAMES = List.copyOf(names);
    }

    /** Options that change how a benchmark is read. */
    public record Options(SpiderData.Target spiderTarget) {
        public static final Options DEFAULTS = new Options(SpiderData.Target.AS_WRITTEN);
    }

    private enum Kind { SPIDER, SAMSUM, DART, GLUE, JSONL }

    private final Kind kind;
    private final GlueTask glue;
    private final Path dir;
    private final Options options;

    private BenchmarkTask(Kind kind, GlueTask glue, Path dir, Options options) {
        this.kind = kind;
        this.glue = glue;
        this.dir = dir;
        this.options = options;
    }

    /** Whether {@code name} is a benchmark name (any case). */
    public static boolean isBenchmark(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return NAMES.contains(n) || n.startsWith("glue/") || n.startsWith("glue-");
    }

    /**
     * The benchmark of a name over the published files in {@code dir}, after checking that every file of its layout is
     * there (so that nothing is loaded before a clear refusal).
     */
    public static BenchmarkTask open(String name, Path dir, Options options) throws IOException {
        String n = name.toLowerCase(Locale.ROOT);
        BenchmarkTask t;
        if (n.startsWith("glue/") || n.startsWith("glue-")) {
            String id = n.substring(5);
            GlueTask g;
            try {
                g = GlueTask.forName(id);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown task '" + name + "'; installed: " + installed(), e);
            }
            t = new BenchmarkTask(Kind.GLUE, g, dir, options);
        } else {
            Kind k = switch (n) {
                case "spider" -> Kind.SPIDER;
                case "samsum" -> Kind.SAMSUM;
                case "dart" -> Kind.DART;
                case "jsonl" -> Kind.JSONL;
                default -> throw new IllegalArgumentException("unknown task '" + name + "'; installed: "
                        + installed());
            };
            t = new BenchmarkTask(k, null, dir, options);
        }
        if (dir == null) {
            throw new IllegalArgumentException("task " + t.name() + " reads the published files: give --data DIR"
                    + " (a run config's data:) holding " + String.join(", ", t.expectedFiles()));
        }
        t.requireFiles();
        return t;
    }

    /** Every task name --task accepts: the bundled ones, then the benchmarks. */
    public static String installed() {
        List<String> all = new ArrayList<>(BundledTasks.names());
        all.addAll(NAMES);
        return String.join(", ", all);
    }

    /** The files (and folders, ending in /) of this task's published layout, relative to its folder. */
    public List<String> expectedFiles() {
        return switch (kind) {
            case SPIDER -> List.of(SpiderData.TRAIN_FILE, SpiderData.VALIDATION_FILE, SpiderData.TABLES_FILE,
                    SpiderData.DATABASE_DIR + "/");
            case SAMSUM -> List.of("train.json", "val.json", "test.json");
            case DART -> List.of("dart-v1.1.1-full-train.json", "dart-v1.1.1-full-dev.json",
                    "dart-v1.1.1-full-test.json");
            case GLUE -> glue == GlueTask.MNLI
                    ? List.of("MNLI/train.tsv", "MNLI/dev_matched.tsv", "MNLI/dev_mismatched.tsv")
                    : List.of(glue.directory() + "/train.tsv", glue.directory() + "/dev.tsv");
            case JSONL -> List.of("train.jsonl", "validation.jsonl", "test.jsonl");
        };
    }

    private void requireFiles() throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "--data: not a folder; expected the published "
                    + name() + " files: " + String.join(", ", expectedFiles()));
        }
        List<String> missing = new ArrayList<>();
        for (String f : expectedFiles()) {
            boolean folder = f.endsWith("/");
            Path p = dir.resolve(folder ? f.substring(0, f.length() - 1) : f);
            if (folder ? !Files.isDirectory(p) : !Files.isRegularFile(p)) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            throw new NoSuchFileException(dir.toString(), null, "the data folder holds no " + String.join(", no ",
                    missing) + "; expected the published " + name() + " layout (" + String.join(", ",
                    expectedFiles()) + "); nothing was written into it");
        }
    }

    @Override
    public String name() {
        return kind == Kind.GLUE ? "glue/" + glue.id() : kind.name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String description() {
        return switch (kind) {
            case SPIDER -> "Spider text-to-SQL from " + dir + " (target " + options.spiderTarget().name()
                    .toLowerCase(Locale.ROOT) + ", scored against the published gold SQL)";
            case SAMSUM -> "SAMSum dialogue summarisation from " + dir;
            case DART -> "DART data-to-text from " + dir;
            case GLUE -> "GLUE " + glue.directory() + " from " + dir;
            case JSONL -> "JSON Lines task from " + dir;
        };
    }

    @Override
    public String mainScore() {
        return switch (kind) {
            case SPIDER -> "execution_accuracy";
            case SAMSUM -> "rouge1";
            case DART -> "bleu";
            case GLUE -> switch (glue) {
                case COLA -> "mcc";
                case STSB -> "pearson";
                default -> "accuracy";
            };
            case JSONL -> "exact_match";
        };
    }

    @Override
    public PromptFormat format() {
        return switch (kind) {
            case SPIDER -> PromptFormat.generation(PromptFormat.SPIDER_PREFIX);
            case DART -> PromptFormat.generation(PromptFormat.DART_PREFIX);
            case GLUE -> GlueData.format(glue);
            case SAMSUM, JSONL -> PromptFormat.generation("");
        };
    }

    @Override
    public boolean classification() {
        return kind == Kind.GLUE && !glue.regression();
    }

    @Override
    public int classes() {
        return kind == Kind.GLUE ? glue.labels().size() : 0;
    }

    @Override
    public int maxLength() {
        return kind == Kind.SPIDER ? Tasks.SPIDER_MAX_LENGTH : 0;
    }

    @Override
    public List<Example> examples(Split split) throws IOException {
        return switch (kind) {
            case SPIDER -> switch (split) {
                case TEST -> SpiderData.load(dir, Split.VALIDATION, options.spiderTarget()).examples();
                default -> heldOut(SpiderData.load(dir, Split.TRAIN, options.spiderTarget()).examples(), split);
            };
            case GLUE -> switch (split) {
                case TEST -> GlueData.load(glue, dir, Split.VALIDATION).examples();
                default -> heldOut(GlueData.load(glue, dir, Split.TRAIN).examples(), split);
            };
            case SAMSUM -> SamsumData.load(dir, split).examples();
            case DART -> DartData.load(dir, split, split == Split.TRAIN ? Mode.TRAIN : Mode.GENERATE).examples();
            case JSONL -> {
                Dataset d = JsonlData.loadFile(dir.resolve(split.name().toLowerCase(Locale.ROOT) + ".jsonl"), split);
                yield d.examples();
            }
        };
    }

    /**
     * The training or the validation part of a training file: a permutation seeded with {@link #VALIDATION_SEED}
     * ({@link ShuffleOrder}) puts its first {@code ceil(0.2 n)} examples in validation (HF {@code train_test_split}'s
     * sizes; not its numpy permutation, so not the same examples); each part keeps the file's order.
     */
    static List<Example> heldOut(List<Example> all, Split part) {
        int n = all.size();
        int validation = (int) Math.ceil(VALIDATION_FRACTION * n);
        int[] order = ShuffleOrder.permutation(n, VALIDATION_SEED, 0);
        boolean[] held = new boolean[n];
        for (int i = 0; i < validation; i++) {
            held[order[i]] = true;
        }
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (held[i] == (part == Split.VALIDATION)) {
                out.add(all.get(i));
            }
        }
        return out;
    }

    @Override
    public Map<String, Double> scoreGenerations(List<String> predictions, List<Example> examples) {
        Map<String, Double> out = new LinkedHashMap<>();
        List<List<String>> refs = examples.stream().map(Example::references).toList();
        switch (kind) {
            case SPIDER -> out.putAll(SpiderScores.score(predictions,
                    examples.stream().map(SpiderData::gold).toList(),
                    examples.stream().map(SpiderData::database).toList(),
                    examples.stream().map(e -> e.field(SpiderData.HARDNESS_FIELD).orElse(null)).toList(),
                    examples.stream().map(SpiderData::foreignKeys).toList()));
            case SAMSUM -> {
                Rouge.Result r = Rouge.corpusMulti(predictions, refs);
                out.put("rouge1", r.rouge1());
                out.put("rouge2", r.rouge2());
                out.put("rougeL", r.rougeL());
                out.put("rougeLsum", r.rougeLsum());
            }
            case DART -> {
                out.put("bleu", Bleu.evaluateBleu(predictions, refs));
                out.put("sacrebleu", Bleu.corpus().corpusScore(predictions, refs).score());
            }
            case JSONL -> {
                out.put("exact_match", ExactMatch.exact().scoreMultiReference(predictions, refs));
                out.put("bleu", Bleu.corpus().corpusScore(predictions, refs).score());
                out.put("rougeL", Rouge.corpusMulti(predictions, refs).rougeL());
            }
            case GLUE -> {
                if (!glue.regression()) {
                    throw new IllegalStateException("GLUE " + glue.directory() + " is scored at the label position,"
                            + " not generated");
                }
                out.putAll(scoreSimilarities(predictions, examples));
            }
        }
        return out;
    }

    /**
     * STS-B: each generated text read as a number ({@link GlueData#parseSimilarity}) against the published score;
     * as the paper code does with a prediction that is no class token, one that is no number is removed with its
     * reference and counted in {@code out_of_class}. Pearson and Spearman as evaluate's glue metric for stsb.
     */
    static Map<String, Double> scoreSimilarities(List<String> predictions, List<Example> examples) {
        List<double[]> kept = new ArrayList<>();
        for (int i = 0; i < predictions.size(); i++) {
            OptionalDouble p = GlueData.parseSimilarity(predictions.get(i));
            if (p.isPresent()) {
                kept.add(new double[] {p.getAsDouble(), Double.parseDouble(examples.get(i).field("label")
                        .orElseThrow(() -> new IllegalArgumentException("an STS-B example without its published"
                                + " score (field 'label'); load it with GlueData")))});
            }
        }
        double[] p = kept.stream().mapToDouble(x -> x[0]).toArray();
        double[] g = kept.stream().mapToDouble(x -> x[1]).toArray();
        Map<String, Double> out = new LinkedHashMap<>();
        for (Score s : Correlation.glueStsb(p, g)) {
            out.put(s.name(), s.value());
        }
        out.put("out_of_class", (double) (predictions.size() - kept.size()));
        return out;
    }

    /** As the paper code: predictions that are no class token are removed, with their references, and counted. */
    @Override
    public Map<String, Double> scoreClasses(int[] predicted, int[] gold) {
        int[] keep = java.util.stream.IntStream.range(0, gold.length).filter(i -> predicted[i] >= 0).toArray();
        int[] p = Arrays.stream(keep).map(i -> predicted[i]).toArray();
        int[] g = Arrays.stream(keep).map(i -> gold[i]).toArray();
        Map<String, Double> out = new LinkedHashMap<>();
        switch (glue) {
            case COLA -> out.put("mcc", Classification.matthewsCorrelation(p, g));
            case MRPC, QQP -> {
                out.put("accuracy", Classification.accuracy(p, g));
                out.put("f1", Classification.f1(p, g));
            }
            default -> out.put("accuracy", Classification.accuracy(p, g));
        }
        out.put("out_of_class", (double) (gold.length - keep.length));
        return out;
    }
}
