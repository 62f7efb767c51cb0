package org.ssmpeft.runtime.cuda;

import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;

/**
 * The CUDA backend, {@code cuda}: ranked above {@code cpu} ({@value #PREFERENCE} against
 * {@value Backends#CPU_PREFERENCE}), so once it builds models it is the default wherever a GPU answers.
 *
 * <p>This release ships the kernels only ({@link org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels}); the model with
 * every layer and hook on the GPU comes with CUDA part 2. Until then the backend implements no family and is never
 * available: its reason is the probe's when the driver, NVRTC or a device is missing (that message lists where the
 * libraries were looked for), else {@link #KERNELS_ONLY}. Being unavailable keeps {@link Backends#preferred()} on
 * {@code cpu} even on a GPU host, where an available provider with no families would otherwise win and then fail.
 *
 * <p>The probe opens device 0 once per class loader and caches the answer, as {@code djl}'s engine check does. It
 * never throws: a missing library, a driver too old, native access denied ({@link IllegalCallerException}) or a
 * binding that does not link ({@link LinkageError}) all become the reason. Without {@code libcuda} it costs a few
 * directory checks and one failed {@code dlopen}.
 */
public final class CudaBackendProvider implements BackendProvider {

    public static final String NAME = "cuda";

    /** Above {@code cpu}'s {@value Backends#CPU_PREFERENCE}: a GPU backend wins where it is available. */
    public static final int PREFERENCE = 200;

    /** The reason when CUDA itself answers: this release has the kernels but no model. */
    public static final String KERNELS_ONLY = "the cuda backend's model (every layer and hook on the GPU) arrives with"
            + " CUDA part 2; the selective-scan kernels are usable through"
            + " org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "NVIDIA GPUs through the CUDA driver API, NVRTC and cuBLAS (java.lang.foreign); this release ships"
                + " the fused selective-scan kernels, the model follows with CUDA part 2";
    }

    @Override
    public int preference() {
        return PREFERENCE;
    }

    /** None yet: the Mamba model on the GPU is CUDA part 2. */
    @Override
    public Set<ModelFamily> families() {
        return Set.of();
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.of(Probe.REASON);
    }

    /**
     * Refuses with the reason before the family check of {@link BackendProvider#create}: with no family listed that
     * check would fail first and say only "it implements: " with nothing after it, hiding why.
     */
    @Override
    public SsmModel create(ModelSpec spec) {
        throw refusal();
    }

    @Override
    public SsmModel build(ModelSpec spec) {
        throw refusal();
    }

    private IllegalStateException refusal() {
        return new IllegalStateException("backend '" + NAME + "' cannot build a model here: " + Probe.REASON);
    }

    /** The probe's answer, computed on first use (holder idiom: once, thread-safe, no lock afterwards). */
    private static final class Probe {
        static final String REASON = probe();
    }

    /** Why this backend cannot run models; never throws. */
    static String probe() {
        try (CudaContext context = CudaContext.open(0)) {
            return KERNELS_ONLY;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        } catch (IllegalCallerException e) {
            return "the cuda backend needs native access, which this JVM denies (" + e.getMessage() + "): run java"
                    + " with --enable-native-access=ALL-UNNAMED, or the module's name on the module path";
        } catch (LinkageError e) {
            return "the cuda backend's native bindings do not link on this JVM: " + e;
        } catch (RuntimeException e) {
            return "the CUDA probe of device 0 failed: " + e;
        }
    }
}
