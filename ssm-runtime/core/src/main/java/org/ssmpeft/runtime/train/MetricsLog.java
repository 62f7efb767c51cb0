package org.ssmpeft.runtime.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.ssmpeft.runtime.io.AtomicFiles;

/**
 * The run's metrics as JSON Lines, one object per event, flushed at once:
 * <pre>
 * {"type":"step","step":3,"epoch":0,"loss":2.71,"learning_rate":8.0E-4,"grad_norm":1.9,"tokens":64,"targets":60,
 *  "seconds":0.02}                                                          (one line in the file)
 * {"type":"eval","step":4,"scores":{"eval_loss":2.65}}
 * {"type":"diverged","step":7,"message":"..."}
 * </pre>
 * A resumed run first drops the lines of steps after its checkpoint (a killed run may have logged steps it never
 * checkpointed), so the log of a resumed run has the lines of an uninterrupted one.
 */
public final class MetricsLog implements TrainingListener, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** A new log: an existing file is replaced. */
    public static MetricsLog create(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8));
    }

    /** Continues a log after {@code step} steps: lines of later steps are dropped first (atomically). */
    public static MetricsLog resume(Path file, int step) throws IOException {
        if (Files.exists(file)) {
            List<String> kept = new ArrayList<>();
            // a kill may have torn the last line anywhere, even inside a character: decode leniently, drop torn lines
            String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException e) {
                    continue; // a line torn by a kill
                }
                if (n.path("step").asInt(Integer.MAX_VALUE) <= step && !"diverged".equals(n.path("type").asText())) {
                    kept.add(line);
                }
            }
            AtomicFiles.write(file, (String.join("\n", kept) + (kept.isEmpty() ? "" : "\n"))
                    .getBytes(StandardCharsets.UTF_8));
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND));
    }

    public Path file() {
        return file;
    }

    @Override
    public void onStep(StepRecord s) {
        ObjectNode n = JSON.createObjectNode().put("type", "step").put("step", s.step()).put("epoch", s.epoch())
                .put("loss", s.loss()).put("learning_rate", s.learningRate()).put("grad_norm", s.gradNorm())
                .put("tokens", s.tokens()).put("targets", s.targets()).put("seconds", s.seconds());
        write(n);
    }

    @Override
    public void onEvaluation(EvalRecord e) {
        ObjectNode n = JSON.createObjectNode().put("type", "eval").put("step", e.step());
        ObjectNode scores = n.putObject("scores");
        e.scores().forEach(scores::put);
        write(n);
    }

    /** Records why the run stopped before {@code step} completed. */
    public void diverged(int step, String message) {
        write(JSON.createObjectNode().put("type", "diverged").put("step", step).put("message", message));
    }

    private void write(ObjectNode n) {
        try {
            out.write(JSON.writeValueAsString(n));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the metrics log " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
