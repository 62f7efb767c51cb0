package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fresh JVM with an empty DJL cache and no offline setting of its own loads the engine: DJL finds the classifier
 * jar's {@code pytorch.properties}, extracts libtorch from the jar into the cache and loads it, downloading nothing.
 * Slow: it writes the 450 MB of libtorch into a temporary cache.
 */
@Tag("slow")
class DjlOfflineLoadTest {

    /** Run in the child JVM: loads the engine and prints where libtorch came from. */
    public static void main(String[] args) {
        System.out.println("offline=" + DjlEngine.isOffline());
        System.out.println("version=" + DjlEngine.pytorch().getVersion());
        System.out.println("library=" + DjlEngine.nativeLibraryDirectory());
    }

    @BeforeAll
    static void engine() {
        DjlFixture.assumeEngine();
    }

    @Test
    void aFreshCacheIsFilledFromTheClassifierJarWithoutDownloading(@TempDir Path cache)
            throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        var pb = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=debug",
                DjlOfflineLoadTest.class.getName()));
        pb.environment().put("DJL_CACHE_DIR", cache.toString());
        pb.environment().remove("DJL_OFFLINE");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        System.out.println(out);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out)
                .contains("offline=true")
                .contains("version=2.7.1")
                .containsPattern("Found matching platform from: jar:file:\\S*pytorch-native-cpu-2\\.7\\.1-linux-x86_64"
                        + "\\.jar!/native/lib/pytorch\\.properties")
                .contains("Extracting pytorch/cpu/linux-x86_64/libtorch_cpu.so to cache")
                .contains("Extracting jnilib/linux-x86_64/cpu/libdjl_torch.so to cache")
                .contains("library=" + cache.resolve("pytorch"))
                .doesNotContainIgnoringCase("download");
    }
}
