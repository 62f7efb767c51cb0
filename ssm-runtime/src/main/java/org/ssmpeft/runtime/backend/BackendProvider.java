package org.ssmpeft.runtime.backend;

import java.util.Optional;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * A compute backend, found at run time with {@link java.util.ServiceLoader}: list the implementation in
 * {@code META-INF/services/org.ssmpeft.runtime.backend.BackendProvider}. Providers are stateless, have a public
 * no-argument constructor, and must not fail to load when their hardware or native library is absent: they report
 * it through {@link #unavailableReason()} instead.
 */
public interface BackendProvider {

    /** The stable name configurations select the backend by ({@code cpu}, {@code djl}, {@code cuda}). */
    String name();

    /** One sentence for listings. */
    String description();

    /** Empty when the backend can run here; else why not (no GPU, native library missing, ...). */
    Optional<String> unavailableReason();

    default boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    /** The model on this backend; the weights are read, never written. */
    MambaModel create(MambaWeights weights);
}
