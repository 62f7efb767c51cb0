package org.ssmpeft.runtime.cuda.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.contract.BackendContract;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;

/**
 * The cuda model's orchestration (every buffer, stride, row copy, hook and gradient route of {@link CudaMamba},
 * {@link MambaBlock}, {@link DevicePlan}, {@link CudaState}) passes the whole backend contract on an emulated device
 * whose kernels are their contracts in plain Java ({@link HostDevice}); it runs everywhere, no GPU needed. Freshly
 * allocated emulated memory is NaN, so a buffer read before it is written fails the comparisons.
 */
class EmulatedCudaModelTest extends BackendContract {

    @Override
    protected String backend() {
        return HostDevice.NAME;
    }

    @Test
    void everyCallGivesBackItsMemoryAndCloseFreesTheRest() {
        ModelCase m = RandomModels.defaults().getFirst();
        var mem = new HostMemory();
        var model = new CudaMamba(m.weights(), HostDevice.create(mem));
        int resident = mem.liveAllocations();
        SsmState s = model.newState(m.tokens().length);
        model.forward(m.tokens(), model.noAdapters(), s);
        model.lossAndGradients(m.tokens(), m.labels(), model.noAdapters(), Set.of("backbone.layers.0.mixer.A_log"));
        SsmState fork = s.fork();
        s.reorder(new int[] {1, 0});
        fork.close();
        assertThat(mem.liveAllocations()).as("allocations after the calls: the weights and one open state")
                .isEqualTo(resident + 2 * m.config().layers());
        model.close();
        s.close();
        assertThat(mem.liveAllocations()).as("allocations after close").isZero();
    }
}
