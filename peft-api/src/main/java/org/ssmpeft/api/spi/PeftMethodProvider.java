package org.ssmpeft.api.spi;

import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A PEFT method, found at run time with {@link java.util.ServiceLoader}. Declare an implementation both in
 * {@code module-info.java} ({@code provides org.ssmpeft.api.spi.PeftMethodProvider with ...}) and in
 * {@code META-INF/services/org.ssmpeft.api.spi.PeftMethodProvider}, so the module path and the class path both find
 * it. Providers are stateless and need a public no-argument constructor.
 *
 * @param <C> the method's typed config: a public record in an exported package, its components spelled in
 *            snake_case in JSON/YAML, documented with {@link org.ssmpeft.api.config.Doc} and bounded with
 *            {@link org.ssmpeft.api.config.Range}
 */
public interface PeftMethodProvider<C extends Record> {

    /** The stable name configs select the method by ({@code state-offset}); lower case, digits and '-'. */
    String name();

    /** One sentence for {@code peft methods}. */
    String description();

    Class<C> configType();

    /** The config used when a file gives no fields. */
    C defaultConfig();

    /** The hooks this method's adapters feed. */
    Set<HookKind> hooks();

    /** Whether the method acts per layer (then a config's {@code layers} selection applies). */
    default boolean perLayer() {
        return true;
    }

    /**
     * Where the adapters of this config prepend virtual tokens ({@link HookKind#INPUT}); empty when they feed no
     * input hook. Composition checks a config file with it before any adapter exists
     * ({@link org.ssmpeft.api.composition.Composition}), and the adapters {@link #create} makes must agree with it
     * ({@link org.ssmpeft.api.composition.AdapterFactory} refuses one that does not). The default follows the
     * placements' definition: a method with an input hook that acts per layer prepends in the layers (prefix
     * tuning), one that acts on the whole model at the embedding (prompt tuning). Override it for anything else.
     */
    default Optional<InputHook.Placement> inputPlacement(C config) {
        if (!hooks().contains(HookKind.INPUT)) {
            return Optional.empty();
        }
        return Optional.of(perLayer() ? InputHook.Placement.LAYER : InputHook.Placement.EMBEDDING);
    }

    /**
     * The model families this method's adapters are written for. A provider that does not say is taken as Mamba-1's
     * only (the family the SPI had first): its hooks' shapes were never checked against another family. Every built-in
     * method declares its own, and the method contracts run on each family declared here.
     */
    default Set<ModelFamily> families() {
        return EnumSet.of(ModelFamily.MAMBA);
    }

    /** Checks that depend on the model (e.g. a LoRA target that the family lacks); empty when fine. */
    default List<ConfigProblem> validate(C config, ModelShape shape) {
        return List.of();
    }

    /**
     * Every problem of {@code config} on {@code shape}: a family this method does not declare ({@link #families}),
     * else {@link #validate}'s. What the factory, the config reader and {@code peft config validate} check.
     */
    default List<ConfigProblem> problems(C config, ModelShape shape) {
        if (!families().contains(shape.family())) {
            return List.of(new ConfigProblem("method", "method '" + name() + "' supports " + families()
                    + " models, not " + shape.family() + " (" + shape.describe() + ")"));
        }
        return validate(config, shape);
    }

    /** The trainable tensors an adapter of this config has on this model. */
    List<ParameterSpec> parameterSpecs(C config, ModelShape shape, LayerSelection layers);

    /** Trainable parameter count, the sum of {@link #parameterSpecs} sizes. */
    default long parameterCount(C config, ModelShape shape, LayerSelection layers) {
        return parameterSpecs(config, shape, layers).stream().mapToLong(ParameterSpec::elementCount).sum();
    }

    /** A new adapter with zero-filled parameters; call {@link Adapter#initialize} to apply the initializers. */
    Adapter create(AdapterContext<C> context);
}
