package org.ssmpeft.runtime.backend;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.TreeSet;
import org.ssmpeft.api.shape.ModelFamily;

/**
 * The installed compute backends, by name (the {@code PeftMethods} pattern): {@code forName("cpu")}; an unknown name
 * fails listing the installed ones, two providers with one name fail naming both classes. Without a name the best
 * available backend runs ({@link #preferred()}): the highest {@link BackendProvider#preference()} among those whose
 * hardware answers, so "cuda where a GPU answers, else cpu".
 */
public final class Backends {

    /** The name of the always-available plain-Java backend. */
    public static final String CPU = "cpu";

    /** {@code cpu}'s preference; GPU backends rank above it, reference backends below. */
    public static final int CPU_PREFERENCE = 100;

    private final Map<String, BackendProvider> byName;

    private Backends(Map<String, BackendProvider> byName) {
        this.byName = byName;
    }

    /** Providers visible to the thread's context class loader (or this class's loader). */
    public static Backends load() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return of(ServiceLoader.load(BackendProvider.class, cl == null ? Backends.class.getClassLoader() : cl)
                .stream().map(p -> {
                    try {
                        return p.get();
                    } catch (ServiceConfigurationError e) {
                        throw new IllegalStateException("backend provider " + p.type().getName()
                                + " cannot be instantiated: " + e.getMessage(), e);
                    }
                }).toList());
    }

    /** A registry of exactly these providers. */
    public static Backends of(List<? extends BackendProvider> providers) {
        Map<String, BackendProvider> byName = new TreeMap<>();
        for (BackendProvider p : providers) {
            BackendProvider previous = byName.putIfAbsent(p.name(), p);
            if (previous != null) {
                throw new IllegalStateException("two backend providers are named '" + p.name() + "': "
                        + previous.getClass().getName() + " and " + p.getClass().getName());
            }
        }
        return new Backends(Map.copyOf(byName));
    }

    /** The installed backend {@code name}, from {@link #load()}. */
    public static BackendProvider forName(String name) {
        return load().get(name);
    }

    /** The best available installed backend, from {@link #load()}. */
    public static BackendProvider defaultBackend() {
        return load().preferred();
    }

    /** The backend {@code name}; fails with the installed names. */
    public BackendProvider get(String name) {
        BackendProvider p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown compute backend '" + name + "'; installed: " + namesText());
        }
        return p;
    }

    /** {@code name} when given (it must be available), else {@link #preferred()}. */
    public BackendProvider select(Optional<String> name) {
        if (name.isEmpty()) {
            return preferred();
        }
        BackendProvider p = get(name.get());
        p.unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("backend '" + p.name() + "' is installed but not available here: " + why
                    + "; available: " + String.join(", ", available().stream().map(BackendProvider::name).toList()));
        });
        return p;
    }

    /**
     * The available backend of highest preference (ties by name); fails listing why each is unavailable. Providers
     * are asked in order of preference and the first available one wins, so a backend ranked below it (djl, whose
     * check loads PyTorch) is never probed.
     */
    public BackendProvider preferred() {
        List<BackendProvider> ranked = byName.values().stream().sorted(RANK).toList();
        for (BackendProvider p : ranked) {
            if (p.isAvailable()) {
                return p;
            }
        }
        throw new IllegalStateException("no compute backend is available: " + (ranked.isEmpty()
                ? "none is installed (add ssm-backend-cpu)"
                : String.join("; ", ranked.stream().map(p -> p.name() + ": " + p.unavailableReason().orElse("?"))
                .toList())));
    }

    /**
     * The available backend of highest preference that implements {@code family} (a GPU backend without Mamba-2
     * kernels leaves a Mamba-2 model to the next one); fails saying why each backend was passed over.
     */
    public BackendProvider preferred(ModelFamily family) {
        List<BackendProvider> ranked = byName.values().stream().sorted(RANK).toList();
        for (BackendProvider p : ranked) {
            if (p.families().contains(family) && p.isAvailable()) {
                return p;
            }
        }
        throw new IllegalStateException("no available compute backend implements the " + family.id() + " family: "
                + String.join("; ", ranked.stream().map(p -> p.name() + ": " + p.unavailableReason().orElse(
                "implements " + String.join(", ", new TreeSet<>(p.families().stream().map(ModelFamily::id)
                        .toList())))).toList()));
    }

    /** {@code name} when given (it must be available), else {@link #preferred(ModelFamily)} for {@code family}. */
    public BackendProvider select(Optional<String> name, ModelFamily family) {
        return name.isEmpty() ? preferred(family) : select(name);
    }

    private static final Comparator<BackendProvider> RANK = Comparator.comparingInt(BackendProvider::preference)
            .reversed().thenComparing(BackendProvider::name);

    /** Installed backend names, sorted. */
    public List<String> names() {
        return List.copyOf(new TreeMap<>(byName).keySet());
    }

    /** Installed backends that can run on this machine, most preferred first. */
    public List<BackendProvider> available() {
        return byName.values().stream().filter(BackendProvider::isAvailable).sorted(RANK).toList();
    }

    private String namesText() {
        return byName.isEmpty() ? "none" : String.join(", ", names());
    }
}
