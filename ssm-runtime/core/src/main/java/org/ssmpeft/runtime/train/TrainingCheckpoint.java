package org.ssmpeft.runtime.train;

import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.config.ConfigFormat;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.io.CrashPoints;
import org.ssmpeft.runtime.safetensors.SafetensorsException;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;

/**
 * A trainer checkpoint: one folder {@code checkpoint-<step>} in the run's output folder holding
 * <ul>
 *   <li>{@value #TRAINABLE_FILE}: every trainable tensor, F32, by {@link TrainableParameter#key()}
 *       ({@code adapter/<adapter>/<parameter>}, {@code base/<Hugging Face name>});</li>
 *   <li>{@value #OPTIMIZER_FILE}: AdamW's moments, {@code <key>.exp_avg} and {@code <key>.exp_avg_sq};</li>
 *   <li>{@value #STATE_FILE}: where the run stands (step, epoch, position of the next micro-batch, seed,
 *       schedule, optimiser step count and hyper-parameters, early-stopping state, the trainable keys and shapes).</li>
 * </ul>
 *
 * <p>Written all or nothing: the files go to a hidden temporary folder {@code .checkpoint-<step>.tmp-*} beside it,
 * each through {@link AtomicFiles} (fsync), the folder is fsynced and renamed to its final name in one step, and
 * the parent is fsynced. A crash leaves the previous checkpoints and perhaps a temporary folder, which the next
 * start's {@link #recover} removes (or, for the previous version of a step being rewritten, restores); a folder named
 * {@code checkpoint-<step>} is always complete.
 */
public final class TrainingCheckpoint {

    public static final String TRAINABLE_FILE = "trainable.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";
    /** The value of {@code format} in {@value #STATE_FILE}. */
    public static final String FORMAT = "ssm-peft-trainer-checkpoint";
    public static final int VERSION = 1;

    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    private static final String TMP_PREFIX = ".checkpoint-";
    // temporary names: .checkpoint-<step>.tmp-<random> (being written), .tmp-old-<nanos> (rotated away, being
    // deleted), .tmp-replaced-<nanos> (the previous version of a step being rewritten)
    private static final String DELETED_TAG = ".tmp-old-";
    private static final String REPLACED_TAG = ".tmp-replaced-";
    private static final Pattern REPLACED = Pattern.compile(Pattern.quote(TMP_PREFIX) + "(\\d+)"
            + Pattern.quote(REPLACED_TAG) + "\\d+");
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path directory;
    private final int step;

    private TrainingCheckpoint(Path directory, int step) {
        this.directory = directory;
        this.step = step;
    }

    /** The folder of the checkpoint after {@code step} steps. */
    public static Path directory(Path outputDirectory, int step) {
        return outputDirectory.resolve("checkpoint-" + step);
    }

    /** The step of a checkpoint folder, from its name. */
    public static OptionalInt stepOf(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        return m.matches() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }

    /** The complete checkpoints of a run, oldest first (empty when the folder does not exist). */
    public static List<Path> list(Path outputDirectory) {
        if (!Files.isDirectory(outputDirectory)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(outputDirectory)) {
            return s.filter(Files::isDirectory).filter(p -> stepOf(p).isPresent())
                    .sorted(Comparator.comparingInt(p -> stepOf(p).getAsInt())).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + outputDirectory + ": " + e.getMessage(), e);
        }
    }

    /** The newest complete checkpoint of a run. */
    public static Optional<Path> latest(Path outputDirectory) {
        List<Path> all = list(outputDirectory);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.getLast());
    }

    /**
     * Opens a complete checkpoint folder: its state file is read at once and every field the trainer resumes from is
     * checked (type and range), each problem naming the file, the key, the value and what was expected.
     */
    public static TrainingCheckpoint open(Path directory) {
        OptionalInt step = stepOf(directory);
        if (step.isEmpty() || !Files.isRegularFile(directory.resolve(STATE_FILE))) {
            throw new IllegalArgumentException(directory + " is not a trainer checkpoint: expected a folder named"
                    + " checkpoint-<step> holding " + STATE_FILE + ", " + TRAINABLE_FILE + " and " + OPTIMIZER_FILE);
        }
        var c = new TrainingCheckpoint(directory, step.getAsInt());
        JsonNode state = c.state();
        Path file = directory.resolve(STATE_FILE);
        if (!state.isObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object, found " + state.getNodeType());
        }
        if (!FORMAT.equals(state.path("format").asText()) || !state.path("version").isInt()
                || state.path("version").asInt() != VERSION) {
            throw new IllegalArgumentException(file + ": expected format " + FORMAT
                    + " version " + VERSION + ", found " + state.path("format") + " version " + state.path("version"));
        }
        if (!state.path("step").isIntegralNumber() || state.path("step").asLong(-1) != c.step) {
            throw new IllegalArgumentException(file + ": step " + state.path("step")
                    + " does not match the folder name " + directory.getFileName());
        }
        List<String> problems = new ArrayList<>();
        nonNegative(state, "micro_batches", problems);
        nonNegative(state.path("optimizer"), "optimizer.step", problems);
        nonNegative(state.path("early_stopping"), "early_stopping.best_step", problems);
        nonNegative(state.path("early_stopping"), "early_stopping.evaluations_without_improvement", problems);
        numberOrNull(state, "last_loss", problems);
        numberOrNull(state.path("early_stopping"), "early_stopping.best", problems);
        JsonNode reason = state.path("stop_reason");
        if (!reason.isNull() && !(reason.isTextual() && STOP_REASONS.contains(reason.textValue()))) {
            problems.add("key 'stop_reason' = " + reason + ": expected null or one of " + STOP_REASONS);
        }
        if (!state.path("run").isObject()) {
            problems.add("key 'run' = " + state.path("run") + ": expected the object of the run's options");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(file + ": " + String.join("; ", problems));
        }
        return c;
    }

    private static final List<String> STOP_REASONS = Stream.of(TrainingResult.StopReason.values())
            .map(Enum::name).toList();

    private static void nonNegative(JsonNode parent, String path, List<String> problems) {
        JsonNode v = parent.path(path.substring(path.lastIndexOf('.') + 1));
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
            problems.add("key '" + path + "' = " + (v.isMissingNode() ? "(absent)" : v.toString())
                    + ": expected an integer >= 0");
        }
    }

    private static void numberOrNull(JsonNode parent, String path, List<String> problems) {
        JsonNode v = parent.path(path.substring(path.lastIndexOf('.') + 1));
        if (!v.isNull() && !v.isNumber()) {
            problems.add("key '" + path + "' = " + (v.isMissingNode() ? "(absent)" : v.toString())
                    + ": expected a number or null");
        }
    }

    public Path directory() {
        return directory;
    }

    public int step() {
        return step;
    }

    /** The state file's JSON. */
    public JsonNode state() {
        Path file = directory.resolve(STATE_FILE);
        try {
            return ConfigFiles.parse(ConfigFiles.readText(file), ConfigFormat.JSON);
        } catch (ConfigFiles.SyntaxException e) {
            String m = file + ": " + e.getMessage();
            throw new UncheckedIOException(m, new IOException(m, e));
        } catch (IOException e) {
            String m = "cannot read " + file + ": " + e.getMessage();
            throw new UncheckedIOException(m, e);
        }
    }

    /** The trainable tensors by key. */
    public Map<String, Tensor> trainable() {
        return read(directory.resolve(TRAINABLE_FILE));
    }

    /** The optimiser moments by {@code <key>.exp_avg} / {@code <key>.exp_avg_sq}. */
    public Map<String, Tensor> optimizerState() {
        return read(directory.resolve(OPTIMIZER_FILE));
    }

    /**
     * Every tensor of a safetensors file as float32, by name, in file order. Values must be finite (a NaN in a
     * checkpoint would resume a diverged run as if it were fine): the refusal names the file, the tensor and the
     * first bad element.
     */
    public static Map<String, Tensor> read(Path file) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                long[] shape = f.info(name).shape();
                int[] s = new int[shape.length];
                for (int i = 0; i < s.length; i++) {
                    if (shape[i] > Integer.MAX_VALUE) {
                        String m = file + ": tensor '" + name + "' has dimension " + shape[i] + "; expected at most "
                                + Integer.MAX_VALUE;
                        throw new UncheckedIOException(m, new IOException(m));
                    }
                    s[i] = (int) shape[i];
                }
                out.put(name, Tensor.of(f.readFiniteFloats(name), s));
            }
        } catch (SafetensorsException e) {
            throw new UncheckedIOException(e.getMessage(), new IOException(e.getMessage(), e));
        }
        return out;
    }

    /**
     * Writes the checkpoint of {@code step} atomically and returns its folder. An existing complete folder of the
     * same step (left by a run that was killed after writing it) is replaced.
     */
    static Path write(Path outputDirectory, int step, Map<String, Tensor> trainable, Map<String, Tensor> optimizer,
                      ObjectNode state) throws IOException {
        Files.createDirectories(outputDirectory);
        Path target = directory(outputDirectory, step);
        Path tmp = Files.createTempDirectory(outputDirectory, TMP_PREFIX + step + ".tmp-");
        boolean moved = false;
        try {
            tensors(trainable).write(tmp.resolve(TRAINABLE_FILE));
            CrashPoints.reached("wrote " + TRAINABLE_FILE);
            tensors(optimizer).write(tmp.resolve(OPTIMIZER_FILE));
            CrashPoints.reached("wrote " + OPTIMIZER_FILE);
            AtomicFiles.write(tmp.resolve(STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state));
            forceDirectory(tmp);
            // an existing folder of this step is renamed out of the way, never deleted in place: a kill while a
            // folder named checkpoint-<step> is half deleted would leave a torn checkpoint under a complete name.
            // Between this rename and the next the step has no folder under its name; a kill there leaves the old
            // version whole under REPLACED_TAG, and recover() puts it back (it is deleted only after the move)
            Path old = Files.exists(target) ? retire(target, REPLACED_TAG) : null;
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                throw new IOException("checkpoint " + target + " appeared while it was being written: is another"
                        + " trainer writing to " + outputDirectory + "?", e);
            }
            moved = true;
            CrashPoints.reached("renamed " + target.getFileName() + " into place");
            forceDirectory(outputDirectory);
            if (old != null) {
                deleteTree(old);
            }
        } catch (SafetensorsException e) {
            throw new IOException(e.getMessage(), e);
        } finally {
            if (!moved) {
                deleteTree(tmp);
            }
        }
        return target;
    }

    /**
     * Finishes what a killed writer left, before a run reads or writes its checkpoints: a complete folder that was
     * being replaced by a newer version of its step, when that version never arrived under the step's name, is
     * renamed back (the newest reported save is never lost); every other temporary folder (a version half written,
     * a replaced or rotated folder half deleted) is removed.
     */
    public static void recover(Path outputDirectory) throws IOException {
        if (!Files.isDirectory(outputDirectory)) {
            return;
        }
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(outputDirectory, TMP_PREFIX + "*.tmp-*")) {
            ds.forEach(stale::add);
        }
        stale.sort(Comparator.comparing(p -> p.getFileName().toString()));
        for (Path p : stale) {
            Matcher m = REPLACED.matcher(p.getFileName().toString());
            if (m.matches()) {
                Path target = directory(outputDirectory, Integer.parseInt(m.group(1)));
                if (!Files.exists(target) && Files.isRegularFile(p.resolve(STATE_FILE))) {
                    Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
                    forceDirectory(outputDirectory);
                    continue;
                }
            }
            deleteTree(p);
        }
    }

    /**
     * Deletes a checkpoint folder as one unit: it is first renamed to a hidden temporary name (atomic), then
     * deleted; a kill leaves it whole under its name or gone from the listing, and the next start removes the rest.
     */
    static void delete(Path checkpoint) throws IOException {
        deleteTree(retire(checkpoint, DELETED_TAG));
    }

    // renames a checkpoint folder to a temporary name that list() ignores and recover() removes or, for a replaced
    // folder whose successor is missing, restores
    private static Path retire(Path checkpoint, String tag) throws IOException {
        Path parent = checkpoint.toAbsolutePath().getParent();
        Path retired = parent.resolve(TMP_PREFIX + stepOf(checkpoint).orElse(0) + tag + System.nanoTime());
        Files.move(checkpoint, retired, StandardCopyOption.ATOMIC_MOVE);
        CrashPoints.reached("retired " + checkpoint.getFileName());
        forceDirectory(parent);
        return retired;
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
                CrashPoints.reached("deleted " + p);
            }
        }
    }

    private static SafetensorsWriter tensors(Map<String, Tensor> tensors) {
        var w = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((name, t) -> {
            int[] s = t.shape();
            long[] shape = new long[s.length];
            for (int i = 0; i < s.length; i++) {
                shape[i] = s[i];
            }
            w.putF32(name, t.data(), shape);
        });
        return w;
    }

    // A rename is durable once the directory entry is on disk; Linux allows fsync on a directory opened read-only,
    // other systems may refuse, and there durability is the file system's business.
    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort, see above
        }
    }
}
