package org.ssmpeft.api.guice;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.registry.PeftMethods;

/**
 * Guice wiring for applications: binds the method registry (discovered with ServiceLoader, or the one given) and
 * the config-driven {@link AdapterFactory}. Library users without Guice call {@code PeftMethods.load()} and
 * {@code new AdapterFactory(methods)}, which is all this module does.
 */
public final class PeftModule extends AbstractModule {

    private final PeftMethods methods;

    /** Discovers the installed methods with ServiceLoader. */
    public PeftModule() {
        this(PeftMethods.load());
    }

    public PeftModule(PeftMethods methods) {
        this.methods = methods;
    }

    @Override
    protected void configure() {
        bind(PeftMethods.class).toInstance(methods);
    }

    @Provides
    @Singleton
    AdapterFactory adapterFactory(PeftMethods registry) {
        return new AdapterFactory(registry);
    }

    @Provides
    @Singleton
    AdapterConfigReader configReader(AdapterFactory factory) {
        return factory.reader();
    }
}
