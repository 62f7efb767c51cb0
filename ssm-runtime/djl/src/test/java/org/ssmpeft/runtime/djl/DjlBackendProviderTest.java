package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmModel;

/** The {@code djl} backend is discovered like the others, and says what to add when its native library is missing. */
class DjlBackendProviderTest {

    /** Run in a child JVM without the native library jar: prints what discovery reports. */
    public static void main(String[] args) {
        Backends backends = Backends.load();
        System.out.println("names=" + backends.names());
        System.out.println("default=" + Backends.defaultBackend().name());
        System.out.println("available=" + backends.available().stream().map(BackendProvider::name).toList());
        System.out.println("reason=" + backends.get("djl").unavailableReason().orElse("none"));
    }

    @Test
    void djlIsFoundByNameNextToTheDefaultCpuBackend() throws Exception {
        BackendProvider djl = Backends.forName("djl");
        assertThat(djl).isInstanceOf(DjlBackendProvider.class);
        assertThat(djl.name()).isEqualTo("djl");
        assertThat(djl.description()).contains("PyTorch").contains(DjlEngine.NATIVE_ARTIFACT);
        assertThat(Backends.load().names()).contains("cpu", "djl");
        assertThat(Backends.defaultBackend().name()).isEqualTo("cpu");
    }

    @Test
    void createsADjlMambaWhenTheEngineLoads() throws Exception {
        DjlFixture.assumeEngine();
        BackendProvider djl = Backends.forName("djl");
        assertThat(djl.unavailableReason()).isEmpty();
        assertThat(Backends.load().available()).extracting(BackendProvider::name).contains("cpu", "djl");
        SsmModel model = djl.create(DjlFixture.weights());
        try {
            assertThat(model).isInstanceOf(DjlMamba.class);
            assertThat(model.backend()).isEqualTo("djl");
            assertThat(model.shape().dInner()).isEqualTo(128);
        } finally {
            ((DjlMamba) model).close();
        }
    }

    @Test
    void withoutTheNativeJarDjlIsUnavailableNamingTheArtifactAndNothingThrows(@TempDir Path emptyCache)
            throws Exception {
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("pytorch-native-cpu"))
                .collect(Collectors.joining(File.pathSeparator));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        var pb = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp", classPath,
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=off", DjlBackendProviderTest.class.getName()));
        pb.environment().put("DJL_CACHE_DIR", emptyCache.toString()); // no libtorch extracted by earlier runs either
        pb.environment().remove("DJL_OFFLINE");
        pb.environment().remove("PYTORCH_LIBRARY_PATH");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        System.out.println(out);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out)
                .contains("names=[cpu, djl]")
                .contains("default=cpu")
                .contains("available=[cpu]")
                .contains("reason=the djl backend needs PyTorch's native library, and its jar is not on the class path:"
                        + " add the dependency ai.djl.pytorch:pytorch-native-cpu:2.7.1:linux-x86_64");
    }
}
