package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.contract.BackendContract;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.model.CudaMamba;

/**
 * The cuda backend passes the whole backend contract on device 0 (fixture parity, decode == forward for every hook
 * kind, chunked prefill, state export/import/reorder/repeat/fork, every hook's loss, logits and gradients against
 * cpu and the gradient check, concurrent calls, the refusals); and its models give their device memory back. Where
 * no GPU answers the contract skips the class through its assumption, with the probe's reason (CI has no GPU, so
 * {@link #requiredInCi()} is false).
 */
@Tag("gpu")
class CudaBackendTest extends BackendContract {

    @Override
    protected String backend() {
        return CudaBackendProvider.NAME;
    }

    @Override
    protected boolean requiredInCi() {
        return false;
    }

    /**
     * A model's weights, its states left open and its calls' memory all go back to the driver when it closes. The
     * first model of the process opens the shared device (context, handle, kernel modules, which stay), so one is
     * made and closed before measuring.
     */
    @Test
    void closingAModelGivesBackItsWeightsStatesAndCallMemory() {
        ModelCase m = RandomModels.defaults().getFirst();
        long before;
        try (CudaContext probe = Gpu.openOrSkip()) {
            ((CudaMamba) Backends.forName(CudaBackendProvider.NAME).create(m.weights())).close();
            probe.syncStream();
            before = probe.driver().memInfo()[0];
            var model = (CudaMamba) Backends.forName(CudaBackendProvider.NAME).create(m.weights());
            SsmState open = model.newState(m.tokens().length); // left open: the model's close frees it
            model.forward(m.tokens(), model.noAdapters(), open);
            model.lossAndGradients(m.tokens(), m.labels(), model.noAdapters(), Set.of(
                    "backbone.layers.0.mixer.A_log"));
            assertThat(model.weightBytes()).isPositive();
            model.close();
            open.close(); // after the model: nothing left to free, no failure
            probe.syncStream();
            long after = probe.driver().memInfo()[0];
            System.out.printf("free device memory %d -> %d bytes around a model's life%n", before, after);
            assertThat(after).as("free device memory after the model closed").isGreaterThan(before - (2L << 20));
            assertThatThrownBy(() -> model.forward(m.tokens(), model.noAdapters()))
                    .hasMessageContaining("the cuda model is closed");
        }
    }

    @Test
    void refusesAStateOfAnotherCudaModelNamingTheFix() {
        ModelCase m = RandomModels.defaults().getFirst();
        try (CudaContext probe = Gpu.openOrSkip();
             var a = (CudaMamba) Backends.forName(CudaBackendProvider.NAME).create(m.weights());
             var b = (CudaMamba) Backends.forName(CudaBackendProvider.NAME).create(m.weights());
             SsmState s = a.newState(m.tokens().length)) {
            assertThat(probe.deviceName()).isNotEmpty();
            assertThatThrownBy(() -> b.forward(m.tokens(), b.noAdapters(), s))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("belongs to another cuda model")
                    .hasMessageContaining("importState(state.export())");
        }
    }
}
