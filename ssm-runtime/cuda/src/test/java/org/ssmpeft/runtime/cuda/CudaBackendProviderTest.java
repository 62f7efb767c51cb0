package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.NativeLibraries;

/**
 * The {@code cuda} provider is discovered, ranks above {@code cpu}, and until CUDA part 2 is never available: without a
 * GPU its reason is the probe's (where libcuda was looked for), on one it says the model is still to come. Either way
 * the default stays {@code cpu} and asking for {@code cuda} fails with the reason.
 */
class CudaBackendProviderTest {

    private static final ModelSpec SPEC = RandomModels.defaults().getFirst().weights();

    @Test
    void isDiscoveredByServiceLoaderAndRanksAboveCpu() {
        List<BackendProvider> found = ServiceLoader.load(BackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).toList();
        assertThat(found).extracting(BackendProvider::name).contains("cuda", "cpu");
        BackendProvider cuda = Backends.forName("cuda");
        assertThat(cuda).isInstanceOf(CudaBackendProvider.class);
        assertThat(cuda.preference()).isEqualTo(200).isGreaterThan(Backends.CPU_PREFERENCE);
        assertThat(cuda.families()).isEmpty();
        assertThat(cuda.description()).contains("CUDA");
    }

    @Test
    void isUnavailableWithTheProbesReasonOrTheKernelsOnlyNote() {
        String why = new CudaBackendProvider().unavailableReason().orElseThrow();
        System.out.println("cuda: " + why);
        try (CudaContext context = CudaContext.open(0)) {
            assertThat(why).isEqualTo(CudaBackendProvider.KERNELS_ONLY);
        } catch (CudaUnavailableException e) {
            assertThat(why).isEqualTo(e.getMessage());
        }
    }

    @Test
    void withoutLibcudaTheReasonSaysWhereLibcudaWasLookedFor() {
        assumeFalse(libcudaLoads(), "libcuda is installed on this machine");
        String why = new CudaBackendProvider().unavailableReason().orElseThrow();
        assertThat(why).contains("libcuda.so.1").contains("looked in: ")
                .contains("the dynamic loader (libcuda.so.1)")
                .contains(NativeLibraries.PROPERTY).contains(NativeLibraries.ENV);
        for (Path p : NativeLibraries.searchFolders()) {
            assertThat(why).contains(p.toString());
        }
    }

    @Test
    void probingWithoutLibcudaIsCheap() {
        assumeFalse(libcudaLoads(), "libcuda is installed on this machine");
        CudaBackendProvider.probe(); // the first call links the classes
        long t0 = System.nanoTime();
        String why = CudaBackendProvider.probe();
        double ms = (System.nanoTime() - t0) / 1e6;
        System.out.printf("probe without libcuda: %.2f ms%n", ms);
        assertThat(why).contains("libcuda");
        assertThat(ms).isLessThan(2000);
    }

    @Test
    void theDefaultBackendStaysCpu() {
        assertThat(Backends.defaultBackend().name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().preferred().name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().select(Optional.empty()).name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().available()).extracting(BackendProvider::name).doesNotContain("cuda");
        assertThat(Backends.load().names()).contains("cpu", "cuda");
    }

    @Test
    void askingForCudaByNameFailsWithTheReason() {
        String why = new CudaBackendProvider().unavailableReason().orElseThrow();
        assertThatThrownBy(() -> Backends.load().select(Optional.of("cuda")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("backend 'cuda' is installed but not available here: " + why)
                .hasMessageContaining("available: cpu");
    }

    @Test
    void buildAndCreateRefuseWithTheReason() {
        BackendProvider cuda = Backends.forName("cuda");
        String why = cuda.unavailableReason().orElseThrow();
        assertThatThrownBy(() -> cuda.create(SPEC))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("backend 'cuda' cannot build a model here: " + why);
        assertThatThrownBy(() -> cuda.build(SPEC))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("backend 'cuda' cannot build a model here: " + why);
    }

    private static boolean libcudaLoads() {
        try {
            NativeLibraries.load("the CUDA driver", List.of("libcuda.so.1", "libcuda.so"));
            return true;
        } catch (CudaUnavailableException e) {
            return false;
        }
    }
}
