package org.ssmpeft.runtime.djl;

import java.util.Optional;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.api.shape.ModelFamily;
import java.util.Set;

/**
 * The DJL reference backend, {@code djl}: {@link DjlMamba} on DJL's PyTorch engine. Available when the engine loads,
 * which needs PyTorch's native library jar on the class path ({@link DjlEngine#NATIVE_ARTIFACT}, optional in
 * ssm-backend-djl); discovery never loads it, {@link #unavailableReason()} does, once, and says which artifact to add when
 * it is missing.
 */
public final class DjlBackendProvider implements BackendProvider {

    public static final String NAME = "djl";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "reference: DJL NDArray code on PyTorch (float32, CPU, offline), Mamba-1 and Mamba-2, gradients by"
                + " autograd; needs "
                + DjlEngine.NATIVE_ARTIFACT;
    }

    @Override
    public int preference() {
        return 0; // a reference: never the default while cpu is installed
    }

    @Override
    public Set<ModelFamily> families() {
        return Set.of(ModelFamily.MAMBA, ModelFamily.MAMBA2);
    }

    @Override
    public Optional<String> unavailableReason() {
        try {
            return DjlEngine.unavailableReason();
        } catch (LinkageError e) { // DJL's own jars left out of the class path
            return Optional.of("DJL is not on the class path (" + e + "); the djl backend needs ai.djl:api,"
                    + " ai.djl.pytorch:pytorch-engine, pytorch-jni and " + DjlEngine.NATIVE_ARTIFACT);
        }
    }

    /** The model with its weights copied into native memory; close it ({@link DjlMamba#close()}) to free them. */
    @Override
    public SsmModel build(ModelSpec spec) {
        requirePrecision(spec); // float32 only
        return DjlMamba.of(spec);
    }
}
