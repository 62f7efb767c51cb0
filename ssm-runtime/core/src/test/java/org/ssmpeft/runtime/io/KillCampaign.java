package org.ssmpeft.runtime.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A SIGKILL campaign against a writer: a child JVM runs {@code main} (which writes version after version and prints
 * {@code saved V} after each write returns) and is stopped in the middle, {@code kills} times, alternately
 * <ul>
 *   <li>by {@link Process#destroyForcibly} (SIGKILL on Linux) at a random moment after a random number of saves;</li>
 *   <li>by itself, with {@link Runtime#halt}, at a random one of the writer's {@link CrashPoints} (the child gets
 *       {@code K} as its last argument and calls {@link CrashPoints#haltAt}): a random-time kill seldom lands in a
 *       window of microseconds, such as a folder deleted file by file.</li>
 * </ul>
 * After each stop {@code check} gets the last version the child reported saved; it must find that version or the
 * one being written, whole.
 *
 * <p>{@code -Dkillcampaign.sigkill-only=true} makes every round a random-time SIGKILL: for a mutation check of a
 * writer that no longer passes the crash points (a plain {@code Files.write}), where a halt round would wait in vain.
 */
public final class KillCampaign {

    /** What is checked after one kill. */
    @FunctionalInterface
    public interface Check {
        /** @param round the kill's number; {@code lastSaved} the last reported version, -1 if none */
        void after(int round, int lastSaved) throws Exception;
    }

    private KillCampaign() {
    }

    /**
     * Runs the campaign; the child of round r gets {@code args} plus its first version, {@code (r + 1) * 1000}.
     *
     * @param maxSleepMillis the kill comes up to this long after the wanted number of saves was reported
     */
    public static void run(Class<?> main, List<String> args, int kills, long seed, int maxSleepMillis,
                           int maxCrashPoint, Check check) throws Exception {
        Random rng = new Random(seed);
        for (int round = 0; round < kills; round++) {
            int first = (round + 1) * 1000;
            boolean halt = round % 2 == 1 && !Boolean.getBoolean("killcampaign.sigkill-only");
            int haltAt = 1 + rng.nextInt(maxCrashPoint);
            AtomicInteger lastSaved = new AtomicInteger(-1);
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Xmx256m");
            cmd.add("-XX:TieredStopAtLevel=1");
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(main.getName());
            cmd.addAll(args);
            cmd.add(Integer.toString(first));
            cmd.add(halt ? Integer.toString(haltAt) : "0");
            Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (var in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("saved ")) {
                            lastSaved.set(Integer.parseInt(line.substring(6).trim()));
                        }
                    }
                } catch (Exception ignored) {
                    // the pipe breaks when the child is killed
                }
            });
            int wanted = 1 + rng.nextInt(4);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            try {
                if (halt) {
                    assertThat(child.waitFor(30, TimeUnit.SECONDS)).as("round %d: the child did not halt at crash"
                            + " point %d within 30 s: does the writer go through AtomicFiles/AtomicFolders?", round,
                            haltAt).isTrue();
                    assertThat(child.exitValue()).as("round %d: halted at crash point %d, not failed", round, haltAt)
                            .isEqualTo(137);
                }
                while (!halt && lastSaved.get() < first + wanted) {
                    assertThat(child.isAlive()).as("round %d: the child died before it was killed", round).isTrue();
                    assertThat(System.nanoTime()).as("round %d: the child writes too slowly", round)
                            .isLessThan(deadline);
                    Thread.sleep(1);
                }
                if (!halt) {
                    Thread.sleep(rng.nextInt(maxSleepMillis + 1)); // somewhere inside a later write
                }
            } finally {
                child.destroyForcibly();
                child.waitFor(30, TimeUnit.SECONDS);
            }
            reader.join(5000);
            check.after(round, lastSaved.get());
        }
    }
}
