package org.ssmpeft.api.testing;

import java.util.List;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.config.Range;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/** Small providers for testing the framework itself, with a config that uses every supported field type. */
public final class TestMethods {

    private TestMethods() {
    }

    public static PeftMethods registry() {
        return PeftMethods.of(List.of(new BiasProvider(), new TokensProvider()));
    }

    public enum Mode implements ConfigEnum {
        PLAIN("plain"), FANCY_MODE("fancy-mode");

        private final String n;

        Mode(String n) {
            this.n = n;
        }

        @Override
        public String configName() {
            return n;
        }
    }

    public enum Color { RED, DARK_BLUE }

    /** A config with every supported field type. */
    public record BiasConfig(@Doc("width multiplier") @Range(min = 1, max = 8) int width,
                             @Doc("scale") @Range(min = 0, max = 1) double scale,
                             boolean frozen, String label, Mode mode, List<Color> colors,
                             @Range(min = 0, max = 9) List<Integer> slots) {
        public static final BiasConfig DEFAULT = new BiasConfig(1, 0.5, false, "x", Mode.PLAIN,
                List.of(Color.RED), List.of(1, 2));

        public BiasConfig {
            colors = List.copyOf(colors);
            slots = List.copyOf(slots);
            if (frozen && mode == Mode.FANCY_MODE) {
                throw new InvalidFieldException("mode", "fancy-mode cannot be frozen; set frozen to false");
            }
        }
    }

    /** An output offset y' (d_inner) per layer, zero init. */
    public static final class BiasProvider extends BasePeftMethodProvider<BiasConfig> {
        public BiasProvider() {
            super("test-bias", "test output bias", BiasConfig.class, BiasConfig.DEFAULT, true,
                    HookKind.OUTPUT_OFFSET);
        }

        @Override
        public List<ParameterSpec> parameterSpecs(BiasConfig config, ModelShape shape, LayerSelection layers) {
            return java.util.Arrays.stream(layers.resolve(shape.layers())).mapToObj(l -> ParameterSpec.perLayer(l,
                    "bias", new Initializer.Zeros(), HookKind.OUTPUT_OFFSET, false, shape.dInner())).toList();
        }

        @Override
        public Adapter create(AdapterContext<BiasConfig> context) {
            return new Bias(context, parameterSpecs(context.config(), context.shape(), context.layers()));
        }
    }

    static final class Bias extends Adapter implements OutputOffsetHook {
        Bias(AdapterContext<BiasConfig> c, List<ParameterSpec> specs) {
            super(c, specs);
        }

        @Override
        public Optional<Tensor> outputOffset(int layer) {
            return layerParameter(layer, "bias");
        }
    }

    public record TokensConfig(@Range(min = 1, max = 100) int count) {
    }

    /** Virtual tokens at the embedding. */
    public static final class TokensProvider extends BasePeftMethodProvider<TokensConfig> {
        public TokensProvider() {
            super("test-tokens", "test prompt", TokensConfig.class, new TokensConfig(2), false, HookKind.INPUT);
        }

        @Override
        public List<ParameterSpec> parameterSpecs(TokensConfig config, ModelShape shape, LayerSelection layers) {
            return List.of(ParameterSpec.global("tokens", new Initializer.Normal(1), HookKind.INPUT, false,
                    config.count(), shape.dModel()));
        }

        @Override
        public Adapter create(AdapterContext<TokensConfig> context) {
            return new Tokens(context, parameterSpecs(context.config(), context.shape(), context.layers()));
        }
    }

    static final class Tokens extends Adapter implements InputHook {
        Tokens(AdapterContext<TokensConfig> c, List<ParameterSpec> specs) {
            super(c, specs);
        }

        @Override
        public Placement placement() {
            return Placement.EMBEDDING;
        }

        @Override
        public int virtualTokenCount() {
            return ((TokensConfig) config()).count();
        }

        @Override
        public Optional<Tensor> virtualTokens(int layer) {
            return Optional.of(parameter("tokens"));
        }
    }

    /** A second provider claiming "test-bias", to test the duplicate-name refusal. */
    public static final class ImpostorBiasProvider extends BasePeftMethodProvider<TokensConfig> {
        public ImpostorBiasProvider() {
            super("test-bias", "impostor", TokensConfig.class, new TokensConfig(1), true, HookKind.INPUT);
        }

        @Override
        public List<ParameterSpec> parameterSpecs(TokensConfig config, ModelShape shape, LayerSelection layers) {
            return List.of();
        }

        @Override
        public Adapter create(AdapterContext<TokensConfig> context) {
            throw new UnsupportedOperationException("never created in tests");
        }
    }
}
