package org.ssmpeft.runtime.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.CrashPoints;

/**
 * The child of {@link CheckpointKillTest}: writes trainer checkpoints as the trainer does, version after version
 * (version v is step v / 2, so every step is written twice and its second write replaces its first), keeping the two
 * newest steps (older ones deleted as the trainer rotates them), printing {@code saved v} after each. Every float of
 * version v's tensors is v.
 */
public final class CheckpointWriteProcess {

    private CheckpointWriteProcess() {
    }

    static final List<String> KEYS = List.of("adapter/kill/layers.0.offset", "adapter/kill/layers.1.offset",
            "adapter/kill/prompt");

    static ObjectNode state(int step) {
        ObjectNode n = TrainingCheckpoint.JSON.createObjectNode();
        n.put("format", TrainingCheckpoint.FORMAT);
        n.put("version", TrainingCheckpoint.VERSION);
        n.put("step", step);
        n.put("micro_batches", step);
        n.putNull("last_loss");
        n.putNull("stop_reason");
        n.putObject("run");
        n.putObject("optimizer").put("step", step);
        ObjectNode es = n.putObject("early_stopping");
        es.putNull("best");
        es.put("best_step", 0);
        es.put("evaluations_without_improvement", 0);
        return n;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int first = Integer.parseInt(args[1]);
        if (Integer.parseInt(args[2]) > 0) {
            CrashPoints.haltAt(Integer.parseInt(args[2]));
        }
        for (int v = first; ; v++) {
            Map<String, Tensor> trainable = new LinkedHashMap<>();
            Map<String, Tensor> moments = new LinkedHashMap<>();
            for (String k : KEYS) {
                float[] a = new float[16 * 1024];
                Arrays.fill(a, v);
                trainable.put(k, Tensor.of(a, 16, 1024));
                moments.put(k + ".exp_avg", Tensor.of(a.clone(), 16, 1024));
                moments.put(k + ".exp_avg_sq", Tensor.of(a.clone(), 16, 1024));
            }
            int step = v / 2;
            Path written = TrainingCheckpoint.write(dir, step, trainable, moments, state(step));
            List<Path> all = TrainingCheckpoint.list(dir);
            for (Path p : all) {
                if (!p.equals(written) && TrainingCheckpoint.stepOf(p).getAsInt() < step - 1) {
                    TrainingCheckpoint.delete(p);
                }
            }
            System.out.println("saved " + v);
            System.out.flush();
        }
    }
}
