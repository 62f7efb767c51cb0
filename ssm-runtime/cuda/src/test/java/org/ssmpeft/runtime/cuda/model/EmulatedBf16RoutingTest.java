package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The whole backend contract (and {@link EmulatedCudaModelTest}'s extra hook kinds) on bf16 models whose
 * conversions are left unrounded ({@link HostDevice#create(HostMemory, boolean)}): every product then reads its two
 * inputs from bf16 buffers, through the resident copies, the per-call copies and the scratch of
 * {@link ModelProducts}, holding exactly the fp32 values, so the contract's fp32 tolerances must hold. This checks
 * the bf16 routing of every call (forward, decode steps, states, training with every hook kind); the rounding itself
 * is {@link EmulatedPrecisionTest}'s.
 */
class EmulatedBf16RoutingTest extends EmulatedCudaModelTest {

    @Override
    protected SsmModel create(ModelSpec spec) {
        if (spec instanceof MambaWeights w) {
            return new CudaMamba(w.withPrecision(Precision.BF16), HostDevice.create(new HostMemory(), false));
        }
        return super.create(spec);
    }
}
