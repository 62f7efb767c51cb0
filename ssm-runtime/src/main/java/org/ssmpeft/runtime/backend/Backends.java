package org.ssmpeft.runtime.backend;

import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The installed compute backends, by name (the {@code PeftMethods} pattern): {@code forName("cpu")}; an unknown name
 * fails listing the installed ones, two providers with one name fail naming both classes. The default is
 * {@value #DEFAULT}, which is always installed and always available.
 */
public final class Backends {

    /** The backend used when none is chosen. */
    public static final String DEFAULT = "cpu";

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

    /** The default backend, {@value #DEFAULT}. */
    public static BackendProvider defaultBackend() {
        return forName(DEFAULT);
    }

    /** The backend {@code name}; fails with the installed names. */
    public BackendProvider get(String name) {
        BackendProvider p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown compute backend '" + name + "'; installed: " + namesText());
        }
        return p;
    }

    /** Installed backend names, sorted. */
    public List<String> names() {
        return List.copyOf(new TreeMap<>(byName).keySet());
    }

    /** Installed backends that can run on this machine. */
    public List<BackendProvider> available() {
        return new TreeMap<>(byName).values().stream().filter(BackendProvider::isAvailable).toList();
    }

    private String namesText() {
        return byName.isEmpty() ? "none" : String.join(", ", names());
    }
}
