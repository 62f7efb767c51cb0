package org.ssmpeft.examples.bundled;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The bundled base model: a small byte-level Mamba-1 pre-trained by {@code peft pretrain} (see
 * {@code examples/src/main/resources/org/ssmpeft/examples/bundled/model/PRETRAIN.md} for the command and its log),
 * shipped inside the jar and extracted on first use into a temporary folder that is deleted when the JVM exits.
 */
public final class BundledModel {

    /** The resource folder of the model in the jar. */
    public static final String RESOURCE = "/org/ssmpeft/examples/bundled/model/";
    static final List<String> FILES = List.of("config.json", "model.safetensors");

    private static Path extracted;

    private BundledModel() {
    }

    /** Whether the jar holds the model. */
    public static boolean available() {
        return BundledModel.class.getResource(RESOURCE + "model.safetensors") != null;
    }

    /** A folder holding config.json and model.safetensors of the bundled model. */
    public static synchronized Path directory() {
        if (extracted != null) {
            return extracted;
        }
        if (!available()) {
            throw new IllegalStateException("this build has no bundled base model (resource " + RESOURCE
                    + "model.safetensors); rebuild it with 'peft pretrain --out "
                    + "examples/src/main/resources/org/ssmpeft/examples/bundled/model' or pass --model DIR");
        }
        try {
            Path dir = Files.createTempDirectory("peft-bundled-model");
            for (String f : FILES) {
                try (InputStream in = BundledModel.class.getResourceAsStream(RESOURCE + f)) {
                    Files.copy(in, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    for (String f : FILES) {
                        Files.deleteIfExists(dir.resolve(f));
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // best effort
                }
            }));
            extracted = dir;
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the bundled model: " + e.getMessage(), e);
        }
    }

    /** The given folder, or the bundled model when none. */
    public static Path orBundled(Path dir) {
        return dir != null ? dir : directory();
    }
}
