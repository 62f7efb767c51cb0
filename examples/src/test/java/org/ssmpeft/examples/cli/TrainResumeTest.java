package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaInit;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;
import org.ssmpeft.runtime.train.TrainingCheckpoint;

/**
 * {@code peft train} checkpoints on request ({@code training.checkpoint_every}) and {@code --resume}s a killed run to
 * the adapter an uninterrupted run saves, bit for bit; a checkpoint of another run, a broken one, or none is refused
 * before any work; the output folder is checked before any work too.
 */
class TrainResumeTest {

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;

    @BeforeAll
    static void tinyModelAndData() throws Exception {
        model = tmp.resolve("model");
        MambaCheckpoint.save(MambaInit.initialise(MambaConfig.of(264, 16, 4, 1), 3), model);
        data = tmp.resolve("sentiment");
        Cli w = Cli.run("tasks", "--write", data.toString(), "--task", "sentiment", "--seed", "1");
        assertThat(w.exitCode()).as(w.err()).isZero();
    }

    private static Path config(String name, Path output, int steps, String lr) throws Exception {
        return Files.writeString(tmp.resolve(name + ".yaml"), """
                task: sentiment
                data: %s
                model: %s
                adapter: {method: state-offset, variant: h}
                training: {steps: %d, lr: %s, batch: 2, seed: 7, checkpoint_every: 1, keep_checkpoints: 0}
                eval: {split: test, limit: 2}
                output: %s
                """.formatted(data, model, steps, lr, output));
    }

    private static float[] adapterWeights(Path output) throws Exception {
        try (var f = SafetensorsFile.open(output.resolve("adapter/adapter_model.safetensors"))) {
            List<Float> all = new ArrayList<>();
            for (String n : f.names()) {
                for (float x : f.readFloats(n)) {
                    all.add(x);
                }
            }
            float[] out = new float[all.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = all.get(i);
            }
            return out;
        }
    }

    @Test
    void aKilledTrainCommandResumesToTheAdapterOfAnUninterruptedRun() throws Exception {
        int steps = 40;
        Path straight = tmp.resolve("straight");
        Cli s = Cli.run("train", config("straight", straight, steps, "1e-2").toString());
        assertThat(s.exitCode()).as(s.err() + s.out()).isZero();
        assertThat(TrainingCheckpoint.list(straight)).hasSize(steps);

        Path killed = tmp.resolve("killed");
        Path cfg = config("killed", killed, steps, "1e-2");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                PeftCommand.class.getName(), "train", cfg.toString()));
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            cmd.add(1, "--add-modules=jdk.incubator.vector"); // the same kernels, the same floats
        }
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (TrainingCheckpoint.list(killed).size() < 3) {
                assertThat(child.isAlive()).as("the child ended early: %s", Files.readString(tmp.resolve(
                        "child.log"))).isTrue();
                assertThat(System.nanoTime()).as("no checkpoint within 120 s").isLessThan(deadline);
                Thread.sleep(5);
            }
        } finally {
            child.destroyForcibly(); // SIGKILL
            child.waitFor(30, TimeUnit.SECONDS);
        }
        int stoppedAt = TrainingCheckpoint.stepOf(TrainingCheckpoint.latest(killed).orElseThrow()).getAsInt();
        assertThat(stoppedAt).as("killed in the middle").isLessThan(steps);

        Cli again = Cli.run("train", cfg.toString());
        assertThat(again.exitCode()).as(again.err()).isEqualTo(2);
        assertThat(again.err()).contains("already holds a run (checkpoint-").contains("continue it with --resume");

        Cli r = Cli.run("train", cfg.toString(), "--resume");
        assertThat(r.exitCode()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("resuming from " + killed.resolve("checkpoint-" + stoppedAt));
        assertThat(Arrays.equals(adapterWeights(killed), adapterWeights(straight)))
                .as("resumed adapter bit for bit equal to the uninterrupted one").isTrue();
    }

    @Test
    void resumeRefusesAnotherRunsOrABrokenCheckpointOrNoneBeforeAnyWork() throws Exception {
        Path out = tmp.resolve("short");
        Cli s = Cli.run("train", config("short", out, 2, "1e-2").toString());
        assertThat(s.exitCode()).as(s.err()).isZero();

        Cli other = Cli.run("train", config("short-other-lr", out, 2, "3e-2").toString(), "--resume");
        assertThat(other.exitCode()).isEqualTo(1);
        assertThat(other.err()).contains("cannot resume from " + out.resolve("checkpoint-2"))
                .contains("the run differs from the one that wrote it; learning_rate");
        assertThat(other.out()).doesNotContain("before (base model");

        // a NaN in the saved adapter: refused naming the file and the tensor
        Path trainable = out.resolve("checkpoint-2").resolve(TrainingCheckpoint.TRAINABLE_FILE);
        var w = new SafetensorsWriter().metadata("format", "pt");
        String name;
        try (var f = SafetensorsFile.open(trainable)) {
            name = f.names().iterator().next();
            for (String n : f.names()) {
                float[] v = f.readFloats(n);
                if (n.equals(name)) {
                    v[0] = Float.NaN;
                }
                w.putF32(n, v, f.info(n).shape());
            }
        }
        w.write(trainable);
        Cli nan = Cli.run("train", config("short", out, 2, "1e-2").toString(), "--resume");
        assertThat(nan.exitCode()).isEqualTo(1);
        assertThat(nan.err()).contains(trainable.toString()).contains(name).contains("NaN");
        assertThat(nan.out()).doesNotContain("before (base model");

        Path empty = tmp.resolve("never-trained");
        Cli none = Cli.run("train", config("none", empty, 2, "1e-2").toString(), "--resume");
        assertThat(none.exitCode()).isEqualTo(2);
        assertThat(none.err()).contains("--resume: output").contains("holds no checkpoint to continue");
        assertThat(empty).doesNotExist();
    }

    @Test
    void anOutputThatIsAFileOrInsideTheModelFolderIsRefusedBeforeAnyWork() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a folder");
        Cli f = Cli.run("train", config("to-file", file, 2, "1e-2").toString());
        assertThat(f.exitCode()).isEqualTo(2);
        assertThat(f.err()).contains("output (" + tmp.resolve("to-file.yaml") + ") " + file
                + " is a file; expected a folder");
        assertThat(Files.readString(file)).isEqualTo("not a folder");

        Path inside = model.resolve("run");
        Cli m = Cli.run("train", config("into-model", inside, 2, "1e-2").toString());
        assertThat(m.exitCode()).isEqualTo(2);
        assertThat(m.err()).contains(inside + " is inside the model folder " + model
                + ", which this command reads");
        assertThat(inside).doesNotExist();
        Cli under = Cli.run("train", config("under-file", file.resolve("run"), 2, "1e-2").toString());
        assertThat(under.err()).contains("lies under " + file + ", which is a file");
    }
}
