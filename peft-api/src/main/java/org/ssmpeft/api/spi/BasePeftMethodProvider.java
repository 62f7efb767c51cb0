package org.ssmpeft.api.spi;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import org.ssmpeft.api.hooks.HookKind;

/**
 * The descriptive half of a {@link PeftMethodProvider}, so a method states its name, description, config and hooks
 * once in its constructor and writes only {@code parameterSpecs} and {@code create}. Subclasses keep a public
 * no-argument constructor for {@link java.util.ServiceLoader}.
 */
public abstract class BasePeftMethodProvider<C extends Record> implements PeftMethodProvider<C> {

    private final String name;
    private final String description;
    private final Class<C> configType;
    private final C defaultConfig;
    private final Set<HookKind> hooks;
    private final boolean perLayer;

    protected BasePeftMethodProvider(String name, String description, Class<C> configType, C defaultConfig,
                                     boolean perLayer, HookKind first, HookKind... more) {
        this.name = Objects.requireNonNull(name, "name");
        this.description = Objects.requireNonNull(description, "description");
        this.configType = Objects.requireNonNull(configType, "configType");
        this.defaultConfig = configType.cast(Objects.requireNonNull(defaultConfig, "defaultConfig"));
        this.hooks = Set.copyOf(EnumSet.of(first, more));
        this.perLayer = perLayer;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final Class<C> configType() {
        return configType;
    }

    @Override
    public final C defaultConfig() {
        return defaultConfig;
    }

    @Override
    public final Set<HookKind> hooks() {
        return hooks;
    }

    @Override
    public final boolean perLayer() {
        return perLayer;
    }
}
