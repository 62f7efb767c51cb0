package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.testing.ConfigMutator;
import org.ssmpeft.api.tensor.Tensor;

/**
 * Property-based fuzzing of {@link AdapterFiles#load}: adapter folders saved by this project (state-offset, LoRA,
 * prompt) with their {@code adapter_config.json} mutated ({@link ConfigMutator}: text and byte damage) or their
 * weights file damaged (bytes flipped, cut, appended). Each must load to exactly the saved adapter (a mutation that
 * changes nothing that counts, such as whitespace) or be refused with an {@link AdapterFileException} naming the
 * folder; never another exception, never more than {@link #PER_INPUT}.
 */
class AdapterFolderFuzzTest {

    private static final Duration PER_INPUT = Duration.ofSeconds(2);
    static final int PER_ADAPTER = 200;

    @Test
    void mutatedAdapterFoldersLoadAsSavedOrAreRefusedNamingTheFolder(@TempDir Path dir) {
        List<Adapter> adapters = List.of(TinyAdapters.stateOffsetH("offset", 1), TinyAdapters.loraWhole("lora", 2),
                TinyAdapters.prompt("prompt", 3));
        int[] loaded = {0};
        int[] refused = {0};
        assertTimeoutPreemptively(Duration.ofSeconds(180), () -> {
            var rnd = new SplittableRandom(16);
            for (Adapter a : adapters) {
                Path original = dir.resolve("saved-" + a.name());
                AdapterFiles.save(a, original);
                String config = Files.readString(original.resolve(AdapterFiles.CONFIG_FILE));
                byte[] weights = Files.readAllBytes(original.resolve(AdapterFiles.WEIGHTS_FILE));
                for (int i = 0; i < PER_ADAPTER; i++) {
                    Path folder = dir.resolve("mutant");
                    Files.createDirectories(folder);
                    boolean configMutant = i % 2 == 0;
                    byte[] c = configMutant ? ConfigMutator.mutateBytes(config, rnd)
                            : config.getBytes(StandardCharsets.UTF_8);
                    byte[] w = configMutant ? weights : damage(weights, rnd);
                    Files.write(folder.resolve(AdapterFiles.CONFIG_FILE), c);
                    Files.write(folder.resolve(AdapterFiles.WEIGHTS_FILE), w);
                    String where = a.name() + " iteration " + i;
                    long t0 = System.nanoTime();
                    try {
                        Adapter back = AdapterFiles.load(folder, TinyAdapters.shape(), TinyAdapters.FACTORY);
                        assertSame(where, c, a, back);
                        loaded[0]++;
                    } catch (AdapterFileException e) {
                        if (e.getMessage() == null || !e.getMessage().contains(folder.toString())) {
                            failWith(where, c, "an AdapterFileException that does not name the folder: " + e, e);
                        }
                        refused[0]++;
                    } catch (Throwable t) {
                        failWith(where, c, "threw " + t, t);
                    }
                    Duration took = Duration.ofNanos(System.nanoTime() - t0);
                    if (took.compareTo(PER_INPUT) > 0) {
                        failWith(where, c, "took " + took, null);
                    }
                }
            }
        });
        System.out.printf("adapter folder fuzz campaign: %d mutants, %d loaded as saved, %d refused naming the"
                + " folder%n", loaded[0] + refused[0], loaded[0], refused[0]);
        assertThat(refused[0]).isPositive();
    }

    /** A loaded mutant must be the saved adapter: the same method, parameters and values, bit for bit. */
    private static void assertSame(String where, byte[] config, Adapter saved, Adapter back) {
        if (!saved.method().equals(back.method()) || !saved.config().equals(back.config())
                || !saved.parameters().keySet().equals(back.parameters().keySet())) {
            failWith(where, config, "loaded as another adapter: " + back + " " + back.config(), null);
        }
        for (var e : saved.parameters().entrySet()) {
            Tensor t = back.parameters().get(e.getKey());
            if (!Arrays.equals(e.getValue().data(), t.data())) {
                failWith(where, config, "parameter " + e.getKey() + " loaded with other values", null);
            }
        }
    }

    private static byte[] damage(byte[] b, SplittableRandom rnd) {
        byte[] out = b.clone();
        switch (rnd.nextInt(4)) {
            case 0 -> out[rnd.nextInt(out.length)] ^= (byte) (1 << rnd.nextInt(8)); // one bit, anywhere
            case 1 -> out = Arrays.copyOf(out, rnd.nextInt(out.length));            // cut short
            case 2 -> out = Arrays.copyOf(out, out.length + 1 + rnd.nextInt(64));   // bytes appended
            default -> {                                                            // a float made NaN
                int header = 8 + (int) (out[0] & 0xff | (out[1] & 0xff) << 8);
                if (out.length > header + 4) {
                    int at = header + 4 * rnd.nextInt((out.length - header) / 4);
                    out[at] = 0;
                    out[at + 1] = 0;
                    out[at + 2] = (byte) 0xc0;
                    out[at + 3] = 0x7f;
                }
            }
        }
        return out;
    }

    private static void failWith(String where, byte[] config, String what, Throwable cause) {
        Path saved = Path.of("target", "fuzz-failures", "adapter-config-" + where.replace(' ', '-') + ".json");
        try {
            Files.createDirectories(saved.getParent());
            Files.write(saved, config);
        } catch (IOException e) {
            saved = Path.of("(not saved: " + e + ")");
        }
        fail(where + ": " + what + "; config saved to " + saved, cause);
    }
}
