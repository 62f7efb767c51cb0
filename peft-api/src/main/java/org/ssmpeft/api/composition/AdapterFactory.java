package org.ssmpeft.api.composition;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigException;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.PeftMethodProvider;

/**
 * Creates adapters from configs: looks the method up in the registry, checks the config against the model shape and
 * initialises the parameters from a seed (so the same config and seed give the same adapter, bit for bit).
 */
public final class AdapterFactory {

    private final PeftMethods methods;
    private final AdapterConfigReader reader;

    public AdapterFactory(PeftMethods methods) {
        this.methods = methods;
        this.reader = new AdapterConfigReader(methods);
    }

    public PeftMethods methods() {
        return methods;
    }

    public AdapterConfigReader reader() {
        return reader;
    }

    /** One adapter, initialised from {@code rng}. */
    public Adapter create(AdapterConfig config, ModelShape shape, RandomGenerator rng) {
        Adapter a = instantiate(methods.forName(config.method()), config, shape);
        a.initialize(rng);
        return a;
    }

    /**
     * All adapters of a config file on one model, all acting, adapter i initialised from a generator seeded with
     * {@code seed + i}.
     */
    public AdapterSet create(Path configFile, ModelShape shape, long seed) {
        return create(reader.read(configFile), shape, seed);
    }

    /**
     * All adapters of these configs on one model, all acting, adapter i initialised from a generator seeded with
     * {@code seed + i}. Configs that cannot act together are refused by {@link #checkComposition} before any
     * adapter is allocated.
     */
    public AdapterSet create(List<AdapterConfig> configs, ModelShape shape, long seed) {
        checkComposition(configs);
        AdapterSet set = new AdapterSet(shape);
        for (int i = 0; i < configs.size(); i++) {
            set.add(create(configs.get(i), shape, seeded(seed + i)));
        }
        return set;
    }

    /**
     * Why these configs cannot act together, as {@link #create(List, ModelShape, long)} and {@link AdapterSet} would
     * refuse them (the same {@link Composition} check, the same messages); empty when they can. Needs no model shape
     * and allocates nothing.
     */
    public List<ConfigProblem> compositionProblems(List<AdapterConfig> configs) {
        return Composition.problems(members(configs)).stream().map(m -> new ConfigProblem("", m)).toList();
    }

    /** Refuses, with a {@link CompositionException}, configs that cannot act together. */
    public void checkComposition(List<AdapterConfig> configs) {
        Composition.check(members(configs));
    }

    private List<Composition.Member> members(List<AdapterConfig> configs) {
        return configs.stream().map(c -> new Composition.Member(c.name(),
                inputPlacement(methods.forName(c.method()), c))).toList();
    }

    private static <C extends Record> Optional<InputHook.Placement> inputPlacement(PeftMethodProvider<C> provider,
                                                                                AdapterConfig config) {
        return provider.inputPlacement(typed(provider, config));
    }

    /** A reproducible generator for initialisation (the same algorithm on every JVM). */
    public static RandomGenerator seeded(long seed) {
        return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    }

    /**
     * The trainable parameter count of the adapter {@code config} would create on {@code shape}, from the method's
     * parameter specs: the config is checked as {@link #create} checks it, and nothing is allocated (validating a
     * LoRA of rank 4096 must not build its 2.5 GB of weights).
     */
    public long parameterCount(AdapterConfig config, ModelShape shape) {
        return count(methods.forName(config.method()), config, shape);
    }

    private static <C extends Record> long count(PeftMethodProvider<C> provider, AdapterConfig config,
                                                 ModelShape shape) {
        C typed = checked(provider, config, shape);
        return provider.parameterCount(typed, shape, config.layers());
    }

    private static <C extends Record> C checked(PeftMethodProvider<C> provider, AdapterConfig config,
                                                ModelShape shape) {
        C typed = typed(provider, config);
        List<ConfigProblem> problems = new ArrayList<>();
        config.layers().outOfRange(shape.layers()).ifPresent(m -> problems.add(new ConfigProblem("layers", m)));
        problems.addAll(provider.problems(typed, shape));
        if (!problems.isEmpty()) {
            throw new ConfigException("for adapter '" + config.name() + "' on " + shape.describe(), problems);
        }
        return typed;
    }

    private static <C extends Record> Adapter instantiate(PeftMethodProvider<C> provider, AdapterConfig config,
                                                          ModelShape shape) {
        C typed = checked(provider, config, shape);
        // sizes are checked before they are allocated: an adapter the heap cannot hold is refused by name
        long count = provider.parameterCount(typed, shape, config.layers());
        long max = Runtime.getRuntime().maxMemory();
        if (count > max / Float.BYTES) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "adapter '%s' (%s) has %,d"
                    + " trainable parameters on %s: %.1f GiB as float32, more than this JVM's whole heap (%.1f GiB,"
                    + " -Xmx); choose a smaller config (rank, tokens, layers) or run java with a larger -Xmx",
                    config.name(), provider.name(), count, shape.describe(), count * 4.0 / (1L << 30),
                    max / (double) (1L << 30)));
        }
        Adapter a = provider.create(new AdapterContext<>(config.name(), provider.name(), typed, shape,
                config.layers()));
        // configs are checked for composition by what the provider declares, adapters by what they are: the same
        Optional<InputHook.Placement> declared = provider.inputPlacement(typed);
        Optional<InputHook.Placement> actual = Composition.of(a).input();
        if (!declared.equals(actual)) {
            throw new IllegalStateException("method '" + provider.name() + "' declares that its adapters prepend "
                    + declared.map(p -> "virtual tokens at the " + p.name().toLowerCase(java.util.Locale.ROOT)
                    + " input").orElse("no virtual tokens") + " (PeftMethodProvider.inputPlacement), but adapter '"
                    + config.name() + "' " + actual.map(p -> "prepends them at the "
                    + p.name().toLowerCase(java.util.Locale.ROOT) + " input").orElse("prepends none")
                    + "; the provider must declare what its adapters do");
        }
        return a;
    }

    private static <C extends Record> C typed(PeftMethodProvider<C> provider, AdapterConfig config) {
        try {
            return provider.configType().cast(config.config());
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("adapter '" + config.name() + "': method '" + provider.name()
                    + "' expects a " + provider.configType().getSimpleName() + ", found a "
                    + config.config().getClass().getSimpleName(), e);
        }
    }
}
