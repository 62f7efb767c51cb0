package org.ssmpeft.runtime.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;

/** Backend discovery by name through ServiceLoader. */
class BackendsTest {

    @Test
    void theCpuBackendIsInstalledAvailableAndTheDefault() throws Exception {
        BackendProvider cpu = Backends.forName("cpu");
        assertThat(cpu.name()).isEqualTo("cpu");
        assertThat(cpu.isAvailable()).isTrue();
        assertThat(Backends.defaultBackend().name()).isEqualTo(Backends.CPU); // djl ranks below cpu, no cuda here
        assertThat(Backends.load().names()).containsExactly("cpu", "djl");
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
}
