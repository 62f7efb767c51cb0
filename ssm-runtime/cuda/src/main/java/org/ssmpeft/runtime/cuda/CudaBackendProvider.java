package org.ssmpeft.runtime.cuda;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.model.CudaMamba;

/**
 * The CUDA backend, {@code cuda}: the Mamba-1 model in float32 on device 0 ({@link CudaMamba}: every layer and every
 * hook kind on the GPU, the fused selective-scan kernels of {@link org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels}
 * inside), ranked above {@code cpu} ({@value #PREFERENCE} against {@value Backends#CPU_PREFERENCE}), so it is the
 * default for Mamba-1 wherever a GPU answers. Mamba-2 is not implemented here: {@link Backends#preferred(ModelFamily)}
 * passes over this backend for it. The matrix products run in the spec's precision ({@link #precisions()}: fp32,
 * tf32, or bf16 autocast); everything else, the scan and its state included, is float32.
 *
 * <p>Available when the probe opens device 0 and a cuBLAS handle on it: the driver, NVRTC, a device and cuBLAS 13.
 * Otherwise the reason is the probe's (where the libraries were looked for). The probe runs once per class loader and
 * caches the answer, as {@code djl}'s engine check does. It never throws: a missing library, a driver too old, native
 * access denied ({@link IllegalCallerException}) or a binding that does not link ({@link LinkageError}) all become
 * the reason. Without {@code libcuda} it costs a few directory checks and one failed {@code dlopen}.
 */
public final class CudaBackendProvider implements BackendProvider {

    public static final String NAME = "cuda";

    /** Above {@code cpu}'s {@value Backends#CPU_PREFERENCE}: a GPU backend wins where it is available. */
    public static final int PREFERENCE = 200;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "NVIDIA GPUs through the CUDA driver API, NVRTC and cuBLAS (java.lang.foreign): the Mamba-1 model with"
                + " every hook and the fused selective-scan kernels, products in fp32, tf32 or bf16 (Mamba-2 not yet)";
    }

    /** fp32, tf32 and bf16 products ({@link CudaMamba}); the rest of the model is float32 in all three. */
    @Override
    public Set<Precision> precisions() {
        return EnumSet.allOf(Precision.class);
    }

    @Override
    public int preference() {
        return PREFERENCE;
    }

    @Override
    public Set<ModelFamily> families() {
        return Set.of(ModelFamily.MAMBA);
    }

    @Override
    public Optional<String> unavailableReason() {
        return Probe.REASON;
    }

    @Override
    public SsmModel build(ModelSpec spec) {
        if (!(spec instanceof MambaWeights w)) {
            throw new IllegalArgumentException("the cuda backend builds models from MambaWeights, found "
                    + spec.getClass().getName() + " (" + spec.describe() + ")");
        }
        requirePrecision(spec);
        try {
            return CudaMamba.open(w, 0);
        } catch (CudaUnavailableException e) {
            throw new IllegalStateException("backend '" + NAME + "' cannot build a model here: " + e.getMessage(), e);
        }
    }

    /** The probe's answer, computed on first use (holder idiom: once, thread-safe, no lock afterwards). */
    private static final class Probe {
        static final Optional<String> REASON = probe();
    }

    /** Empty when device 0 opens with a cuBLAS handle, else why this backend cannot run models; never throws. */
    static Optional<String> probe() {
        try (CudaContext context = CudaContext.open(0)) {
            Cublas.create(context).close();
            return Optional.empty();
        } catch (CudaUnavailableException e) {
            return Optional.of(e.getMessage());
        } catch (IllegalCallerException e) {
            return Optional.of("the cuda backend needs native access, which this JVM denies (" + e.getMessage()
                    + "): run java with --enable-native-access=ALL-UNNAMED, or the module's name on the module path");
        } catch (LinkageError e) {
            return Optional.of("the cuda backend's native bindings do not link on this JVM: " + e);
        } catch (RuntimeException e) {
            return Optional.of("the CUDA probe of device 0 failed: " + e);
        }
    }
}
