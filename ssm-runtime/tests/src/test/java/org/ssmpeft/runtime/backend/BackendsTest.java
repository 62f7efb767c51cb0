package org.ssmpeft.runtime.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;

/** Backend discovery by name through ServiceLoader. */
class BackendsTest {

    @Test
    void theCpuBackendIsInstalledAvailableAndTheDefaultWithoutAGpu() throws Exception {
        BackendProvider cpu = Backends.forName("cpu");
        assertThat(cpu.name()).isEqualTo("cpu");
        assertThat(cpu.isAvailable()).isTrue();
        // cuda is installed on this test path; it is the default only where a device answers (djl ranks below cpu)
        boolean gpu = Backends.forName("cuda").isAvailable();
        assertThat(Backends.defaultBackend().name()).isEqualTo(gpu ? "cuda" : Backends.CPU);
        assertThat(Backends.load().names()).containsExactly("cpu", "cuda", "djl");
        assertThat(Backends.load().available()).extracting(BackendProvider::name).contains("cpu");

        SsmModel model = cpu.create(MambaCheckpoint.load(Fixtures.mambaTiny()));
        assertThat(model).isInstanceOf(CpuMamba.class);
        assertThat(model.backend()).isEqualTo("cpu");
        assertThat(model.shape().dInner()).isEqualTo(128);
    }

    @Test
    void anUnknownNameFailsListingTheInstalledBackends() {
        assertThatThrownBy(() -> Backends.forName("cdua"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown compute backend 'cdua'")
                .hasMessageContaining("installed: ")
                .hasMessageContaining("cpu");
    }

    @Test
    void twoProvidersWithOneNameAreRefused() {
        assertThatThrownBy(() -> Backends.of(java.util.List.of(new org.ssmpeft.runtime.cpu.CpuBackendProvider(),
                new org.ssmpeft.runtime.cpu.CpuBackendProvider())))
                .hasMessageContaining("two backend providers are named 'cpu'");
    }

    @Test
    void theDefaultForAFamilySkipsABetterRankedBackendWithoutIt() {
        BackendProvider gpuMamba1Only = new FakeProvider("gpu", 500, Set.of(ModelFamily.MAMBA), Optional.empty());
        BackendProvider away = new FakeProvider("away", 900, Set.of(ModelFamily.MAMBA, ModelFamily.MAMBA2),
                Optional.of("no device here"));
        var backends = Backends.of(List.of(new org.ssmpeft.runtime.cpu.CpuBackendProvider(), gpuMamba1Only, away));
        assertThat(backends.preferred().name()).isEqualTo("gpu");
        assertThat(backends.preferred(ModelFamily.MAMBA).name()).isEqualTo("gpu");
        assertThat(backends.preferred(ModelFamily.MAMBA2).name()).isEqualTo("cpu");
        assertThat(backends.select(Optional.empty(), ModelFamily.MAMBA2).name()).isEqualTo("cpu");
        assertThat(backends.select(Optional.of("gpu"), ModelFamily.MAMBA2).name()).isEqualTo("gpu"); // named: its own refusal
        assertThatThrownBy(() -> Backends.of(List.of(gpuMamba1Only, away)).preferred(ModelFamily.MAMBA2))
                .hasMessageContaining("no available compute backend implements the " + ModelFamily.MAMBA2.id())
                .hasMessageContaining("away: no device here")
                .hasMessageContaining("gpu: implements " + ModelFamily.MAMBA.id());
    }

    private record FakeProvider(String name, int preference, Set<ModelFamily> families, Optional<String> why)
            implements BackendProvider {
        @Override
        public String description() {
            return "test double";
        }

        @Override
        public Optional<String> unavailableReason() {
            return why;
        }

        @Override
        public SsmModel build(ModelSpec spec) {
            throw new UnsupportedOperationException("a test double builds nothing");
        }
    }
}
