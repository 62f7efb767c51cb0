package org.ssmpeft.runtime.cpu;

import java.util.Optional;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.api.shape.ModelFamily;
import java.util.Set;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/** The built-in CPU backend, {@code cpu}: plain Java, float32, multi-threaded; always available. */
public final class CpuBackendProvider implements BackendProvider {

    public static final String NAME = "cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "plain Java on the CPU, float32, multi-threaded, hand-derived backward (always available)";
    }

    @Override
    public int preference() {
        return Backends.CPU_PREFERENCE;
    }

    @Override
    public Set<ModelFamily> families() {
        return Set.of(ModelFamily.MAMBA, ModelFamily.MAMBA2);
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    @Override
    public SsmModel build(ModelSpec spec) {
        requirePrecision(spec); // float32 only
        return switch (spec) {
            case MambaWeights w -> new CpuMamba(w);
            case Mamba2Weights w -> new CpuMamba2(w);
            default -> throw new IllegalArgumentException("the cpu backend builds models from MambaWeights or"
                    + " Mamba2Weights, found " + spec.getClass().getName() + " (" + spec.describe() + ")");
        };
    }
}
