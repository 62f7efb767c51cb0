package org.ssmpeft.runtime.cuda.model;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The cuda model's code on an emulated device ({@link HostMemory}, {@link HostLayers}, {@link HostProducts},
 * {@link HostScan}: the kernels' contracts in plain Java), as the test-only backend {@value #NAME}: it runs the whole
 * backend contract without a GPU, so every address, stride, row copy, hook and gradient route of {@link CudaMamba}
 * is checked against cpu here. What it cannot check is the kernels themselves (CudaBackendTest does, on a GPU).
 * Ranked below cpu, so it is never a default.
 */
public final class HostDevice implements BackendProvider {

    public static final String NAME = "cuda-emulated";

    /** A fresh emulated device with its own memory. */
    static Device create(HostMemory mem) {
        return create(mem, true);
    }

    /** As {@link #create(HostMemory)}; {@code roundBf16} false leaves the bf16 conversions unrounded (HostLayers). */
    static Device create(HostMemory mem, boolean roundBf16) {
        Map<Precision, ProductOps> products = new EnumMap<>(Precision.class);
        for (Precision p : Precision.values()) {
            products.put(p, new HostProducts(mem, p));
        }
        return new Device(NAME, "host emulation of the cuda kernels' contracts", mem, new HostLayers(mem, roundBf16),
                products,
                new HostScan(mem), Optional.of(new HostOptimizer(mem)), () -> {
                }, () -> {
                });
    }

    /** A fresh emulated device without the optimiser's kernels: a trainer runs its steps through the host. */
    static Device withoutOptimizer(HostMemory mem) {
        Map<Precision, ProductOps> products = new EnumMap<>(Precision.class);
        for (Precision p : Precision.values()) {
            products.put(p, new HostProducts(mem, p));
        }
        return new Device(NAME, "host emulation without the optimiser", mem, new HostLayers(mem, true), products,
                new HostScan(mem), () -> {
                }, () -> {
                });
    }

    /** As the cuda backend: fp32, tf32 and bf16 products ({@link HostProducts} emulates each). */
    @Override
    public Set<Precision> precisions() {
        return EnumSet.allOf(Precision.class);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "tests only: the cuda model on a host emulation of its kernels' contracts";
    }

    @Override
    public int preference() {
        return 10;
    }

    @Override
    public Set<ModelFamily> families() {
        return Set.of(ModelFamily.MAMBA);
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    @Override
    public SsmModel build(ModelSpec spec) {
        return new CudaMamba((MambaWeights) spec, create(new HostMemory()));
    }
}
