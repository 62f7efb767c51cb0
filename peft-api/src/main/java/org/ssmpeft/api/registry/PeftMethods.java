package org.ssmpeft.api.registry;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.ssmpeft.api.config.Spelling;
import org.ssmpeft.api.spi.PeftMethodProvider;

/**
 * The installed PEFT methods, by name (Lucene's {@code NamedSPILoader} idea): {@code forName("state-offset")}, an
 * unknown name fails with the list of installed ones, and two providers claiming one name fail naming both classes.
 *
 * <p>Immutable; build it once ({@link #load()}) and share it.
 */
public final class PeftMethods {

    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

    private final Map<String, PeftMethodProvider<?>> byName;

    private PeftMethods(Map<String, PeftMethodProvider<?>> byName) {
        this.byName = Collections.unmodifiableMap(byName);
    }

    /** Providers visible to the thread's context class loader (class path) or, in a named module, the boot layer. */
    public static PeftMethods load() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return from(cl == null ? ServiceLoader.load(PeftMethodProvider.class)
                : ServiceLoader.load(PeftMethodProvider.class, cl));
    }

    /** Providers visible to {@code loader} (e.g. a class loader over plugin jars). */
    public static PeftMethods load(ClassLoader loader) {
        return from(ServiceLoader.load(PeftMethodProvider.class, loader));
    }

    /** Providers in the modules of {@code layer} and its parents. */
    public static PeftMethods load(ModuleLayer layer) {
        return from(ServiceLoader.load(layer, PeftMethodProvider.class));
    }

    /** A registry of exactly these providers (tests, or applications that wire methods by hand). */
    public static PeftMethods of(List<? extends PeftMethodProvider<?>> providers) {
        Map<String, PeftMethodProvider<?>> byName = new TreeMap<>();
        for (PeftMethodProvider<?> p : providers) {
            String name = p.name();
            if (name == null || !NAME.matcher(name).matches()) {
                throw new IllegalStateException("PEFT method provider " + p.getClass().getName()
                        + " has an invalid name '" + name + "': expected lower-case letters, digits and '-'");
            }
            PeftMethodProvider<?> previous = byName.putIfAbsent(name, p);
            if (previous != null) {
                throw new IllegalStateException("two PEFT method providers are named '" + name + "': "
                        + previous.getClass().getName() + " and " + p.getClass().getName()
                        + "; remove one of their jars or rename one");
            }
        }
        return new PeftMethods(byName);
    }

    @SuppressWarnings("rawtypes")
    private static PeftMethods from(ServiceLoader<PeftMethodProvider> loader) {
        List<PeftMethodProvider<?>> found = new ArrayList<>();
        try {
            for (PeftMethodProvider<?> p : loader) {
                found.add(p);
            }
        } catch (ServiceConfigurationError e) {
            throw new IllegalStateException("a PEFT method plugin could not be loaded: " + e.getMessage(), e);
        }
        return of(found);
    }

    /** The provider named {@code name}; fails listing the installed names (and the closest one). */
    public PeftMethodProvider<?> forName(String name) {
        PeftMethodProvider<?> p = byName.get(name);
        if (p == null) {
            throw new UnknownMethodException("unknown PEFT method '" + name + "'" + Spelling.hint(name, byName.keySet())
                    + "; installed: " + installedNames());
        }
        return p;
    }

    public Optional<PeftMethodProvider<?>> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** Installed names in alphabetical order. */
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    /** Installed providers in name order. */
    public List<PeftMethodProvider<?>> providers() {
        return List.copyOf(byName.values());
    }

    /** {@code "initial-state, lora, prefix, prompt, state-offset"} (or "none" when nothing is installed). */
    public String installedNames() {
        return byName.isEmpty() ? "none (no PEFT method jar on the class path or module path)"
                : String.join(", ", byName.keySet());
    }
}
