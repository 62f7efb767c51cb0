package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.NativeLibraries;

/**
 * The {@code cuda} provider is discovered, ranks above {@code cpu} and implements Mamba-1. It is available exactly
 * when the probe opens device 0 with a cuBLAS handle: then it is the default (for Mamba-1; Mamba-2 stays on
 * {@code cpu}); without a GPU its reason is the probe's (where libcuda was looked for), the default stays {@code cpu},
 * and asking for {@code cuda} or creating a model on it fails with that reason.
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
        assertThat(cuda.families()).containsExactly(ModelFamily.MAMBA);
        assertThat(cuda.description()).contains("CUDA");
    }

    @Test
    void isAvailableExactlyWhenDevice0AndCublasOpenElseGivesTheProbesReason() {
        Optional<String> why = new CudaBackendProvider().unavailableReason();
        System.out.println("cuda: " + why.orElse("available"));
        try (CudaContext context = CudaContext.open(0)) {
            Cublas.create(context).close();
            assertThat(why).isEmpty();
        } catch (CudaUnavailableException e) {
            assertThat(why).contains(e.getMessage());
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
        Optional<String> why = CudaBackendProvider.probe();
        double ms = (System.nanoTime() - t0) / 1e6;
        System.out.printf("probe without libcuda: %.2f ms%n", ms);
        assertThat(why).hasValueSatisfying(w -> assertThat(w).contains("libcuda"));
        assertThat(ms).isLessThan(2000);
    }

    @Test
    void withoutAGpuTheDefaultBackendStaysCpu() {
        assumeFalse(new CudaBackendProvider().isAvailable(), "a GPU answers here");
        assertThat(Backends.defaultBackend().name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().preferred().name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().select(Optional.empty()).name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().available()).extracting(BackendProvider::name).doesNotContain("cuda");
        assertThat(Backends.load().names()).contains("cpu", "cuda");
    }

    @Test
    void withAGpuCudaIsTheDefaultForMambaAndCpuForMamba2() {
        assumeTrue(new CudaBackendProvider().isAvailable(), "no GPU answers here");
        assertThat(Backends.load().preferred().name()).isEqualTo(CudaBackendProvider.NAME);
        assertThat(Backends.load().preferred(ModelFamily.MAMBA).name()).isEqualTo(CudaBackendProvider.NAME);
        assertThat(Backends.load().preferred(ModelFamily.MAMBA2).name()).isEqualTo(Backends.CPU);
        assertThat(Backends.load().available()).extracting(BackendProvider::name).contains("cuda", "cpu");
    }

    @Test
    void askingForCudaByNameWithoutAGpuFailsWithTheReason() {
        assumeFalse(new CudaBackendProvider().isAvailable(), "a GPU answers here");
        String why = new CudaBackendProvider().unavailableReason().orElseThrow();
        assertThatThrownBy(() -> Backends.load().select(Optional.of("cuda")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("backend 'cuda' is installed but not available here: " + why)
                .hasMessageContaining("available: cpu");
    }

    @Test
    void creatingAModelWithoutAGpuFailsWithTheReason() {
        BackendProvider cuda = Backends.forName("cuda");
        assumeFalse(cuda.isAvailable(), "a GPU answers here");
        String why = cuda.unavailableReason().orElseThrow();
        assertThatThrownBy(() -> cuda.create(SPEC))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("backend 'cuda' is not available here: " + why);
    }

    @Test
    void aMamba2SpecIsRefusedNamingTheFamilies() {
        ModelSpec mamba2 = RandomModels.specOf(ModelFamily.MAMBA2, ModelShape.mamba2(2, 16, 8, 8, 1, 32));
        assertThatThrownBy(() -> Backends.forName("cuda").create(mamba2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("backend 'cuda' does not implement the mamba2 family")
                .hasMessageContaining("it implements: mamba");
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
