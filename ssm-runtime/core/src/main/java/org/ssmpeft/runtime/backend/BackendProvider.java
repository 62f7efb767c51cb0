package org.ssmpeft.runtime.backend;

import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.ssmpeft.api.shape.ModelFamily;

/**
 * A compute backend, found at run time with {@link java.util.ServiceLoader}: list the implementation in
 * {@code META-INF/services/org.ssmpeft.runtime.backend.BackendProvider}. Providers are stateless, have a public
 * no-argument constructor, and must not fail to load when their hardware or native library is absent: they report
 * it through {@link #unavailableReason()} instead. README "Write your own backend" walks through one.
 */
public interface BackendProvider {

    /** The stable name configurations select the backend by ({@code cpu}, {@code djl}, {@code cuda}). */
    String name();

    /** One sentence for listings. */
    String description();

    /**
     * Rank in the default choice: among the available backends the highest wins when none is named (DJL's engine
     * selection). A GPU backend ranks above {@code cpu} ({@value Backends#CPU_PREFERENCE}); a reference backend that
     * should never be picked by default ranks below it.
     */
    int preference();

    /** The model families this backend implements. */
    Set<ModelFamily> families();

    /**
     * The precisions of matrix products this backend computes in ({@link ModelSpec#precision()}); float32 only
     * unless a backend says more.
     */
    default Set<Precision> precisions() {
        return Set.of(Precision.FLOAT32);
    }

    /** Empty when the backend can run here; else why not (no GPU, native library missing, ...). */
    Optional<String> unavailableReason();

    default boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    /**
     * The model on this backend; the spec's weights are read, never written. Fails naming the family when this
     * backend does not implement it, naming the precision asked and those offered when it cannot compute in the
     * spec's precision, and the reason when the backend is unavailable.
     */
    default SsmModel create(ModelSpec spec) {
        if (!families().contains(spec.family())) {
            throw new IllegalArgumentException("backend '" + name() + "' does not implement the " + spec.family()
                    + " family; it implements: " + String.join(", ",
                    new TreeSet<>(families().stream().map(ModelFamily::id).toList())));
        }
        requirePrecision(spec);
        unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("backend '" + name() + "' is not available here: " + why);
        });
        return build(spec);
    }

    /** Fails, naming this backend, the precision asked and those offered, when {@link #precisions()} lacks it. */
    default void requirePrecision(ModelSpec spec) {
        if (!precisions().contains(spec.precision())) {
            throw new IllegalArgumentException("backend '" + name() + "' cannot compute in " + spec.precision()
                    + " (asked for " + spec.describe() + "); it offers: " + String.join(", ", precisions().stream()
                    .sorted().map(Precision::id).toList()) + " (another backend, or --precision "
                    + precisions().stream().sorted().findFirst().map(Precision::id).orElse("fp32") + ")");
        }
    }

    /** For implementations: the model of a spec of a supported family, called by {@link #create}. */
    SsmModel build(ModelSpec spec);
}
