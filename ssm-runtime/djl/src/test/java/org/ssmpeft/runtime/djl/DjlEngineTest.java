package org.ssmpeft.runtime.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The PyTorch engine loads offline, from the classifier jar on the class path, and computes in float32 on the CPU. */
class DjlEngineTest {

    @BeforeAll
    static void engine() {
        DjlFixture.assumeEngine();
    }

    @Test
    void runsInOfflineMode() {
        assertThat(DjlEngine.isOffline()).isTrue();
    }

    @Test
    void loadsLibtorchExtractedFromTheClassifierJarIntoTheEngineCache() {
        // A placeholder platform is what makes DJL download libtorch; the classifier jar's pytorch.properties is not.
        assertThat(DjlEngine.nativePackageOnClassPath()).isTrue();
        assertThat(DjlEngine.pytorch().getVersion()).isEqualTo("2.7.1");
        assertThat(DjlEngine.nativeLibraryDirectory())
                .startsWith(DjlEngine.engineCacheDirectory())
                .satisfies(p -> assertThat(p.getFileName().toString()).startsWith("2.7.1-").endsWith("-cpu-linux-x86_64"));
        assertThat(DjlEngine.nativeLibraryDirectory().resolve("libtorch_cpu.so")).isRegularFile();
    }

    @Test
    void computesFloat32OnTheCpu() {
        try (NDManager m = DjlEngine.newManager()) {
            NDArray a = m.create(new float[] {1, 2, 3});
            NDArray b = a.matMul(a.reshape(3, 1)).exp();
            assertThat(m.getDevice()).isEqualTo(Device.cpu());
            assertThat(b.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(b.getDevice()).isEqualTo(Device.cpu());
        }
    }
}
