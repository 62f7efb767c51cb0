package org.ssmpeft.api.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Hook;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.PeftMethodProvider;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The contract every PEFT method passes (Lucene's {@code BasePostingsFormatTestCase} idea). A method module's test
 * extends this class, names its method, gives a few configs and writes down its parameter-count formula; the checks
 * below then run for it: discovery by name, JSON/YAML round trip of configs, parameter shapes and counts for several
 * model shapes, initialisation, and the hooks its adapters feed.
 */
public abstract class PeftMethodContract {

    /** The provider name under test. */
    protected abstract String methodName();

    /** Configs to check, the provider's default among them or not (it is always checked too). */
    protected abstract List<Record> sampleConfigs();

    /** The trainable parameter count by the method's formula, independent of the provider's code. */
    protected abstract long expectedParameterCount(Record config, ModelShape shape, int selectedLayers);

    /** Model shapes the method supports; override to drop a family it does not handle. */
    protected List<ModelShape> shapes() {
        return List.of(ModelShape.preset("mamba-tiny").orElseThrow(), ModelShape.preset("mamba-130m").orElseThrow(),
                ModelShape.preset("mamba2-tiny").orElseThrow(), ModelShape.mamba(3, 40, 8, 97));
    }

    /** Layer selections to check on each shape (only "all" for methods that are not per layer). */
    protected List<LayerSelection> layerSelections() {
        return provider().perLayer() ? List.of(LayerSelection.ALL, LayerSelection.of(0), LayerSelection.of(0, 1))
                : List.of(LayerSelection.ALL);
    }

    protected final PeftMethods methods() {
        return PeftMethods.load();
    }

    protected final PeftMethodProvider<?> provider() {
        return methods().forName(methodName());
    }

    private Stream<Record> configs() {
        return Stream.concat(Stream.of(provider().defaultConfig()), sampleConfigs().stream());
    }

    private Stream<ModelShape> supportedShapes(Record config) {
        return shapes().stream().filter(s -> problemsFor(config, s).isEmpty());
    }

    @Test
    void isDiscoveredByName() {
        assertThat(methods().names()).contains(methodName());
        assertThat(provider().name()).isEqualTo(methodName());
        assertThat(provider().description()).isNotBlank();
        assertThat(provider().hooks()).isNotEmpty();
    }

    /**
     * A method that declares a family ({@link PeftMethodProvider#families}) is checked on it: some config of this test
     * validates on some shape of {@link #shapes()} of that family. Fails when a method claims a family its tests never
     * run on.
     */
    @Test
    void everySupportedFamilyHasCases() {
        assertThat(provider().families()).as("families of %s", methodName()).isNotEmpty();
        for (ModelFamily f : provider().families()) {
            assertThat(configs().anyMatch(c -> supportedShapes(c).anyMatch(s -> s.family() == f)))
                    .as("%s declares %s, but no config of its contract test validates on a %s shape of shapes()",
                            methodName(), f, f).isTrue();
        }
    }

    /** A family the method does not declare is refused by the checks every entry point makes, naming the family. */
    @Test
    void aFamilyTheMethodDoesNotDeclareIsRefused() {
        for (ModelFamily f : ModelFamily.values()) {
            if (provider().families().contains(f)) {
                continue;
            }
            ModelShape s = ModelShape.preset(f == ModelFamily.MAMBA ? "mamba-tiny" : "mamba2-tiny").orElseThrow();
            assertThat(problemsFor(provider().defaultConfig(), s)).as("%s on %s", methodName(), f).isNotEmpty()
                    .first().asString().contains(f.toString());
        }
    }

    @Test
    void defaultConfigHasTheConfigType() {
        assertThat(provider().defaultConfig()).isInstanceOf(provider().configType());
    }

    @ParameterizedTest
    @MethodSource("formats")
    void configsRoundTripThroughTheFileFormat(ConfigFormat format) {
        AdapterConfigReader reader = new AdapterConfigReader(methods());
        List<Record> configs = configs().toList();
        List<AdapterConfig> written = java.util.stream.IntStream.range(0, configs.size()).mapToObj(i ->
                new AdapterConfig("adapter-" + i, methodName(), provider().perLayer() ? LayerSelection.of(0, 2, 3, 4)
                        : LayerSelection.ALL, configs.get(i))).toList();
        String text = reader.write(written, format);
        assertThat(reader.parse(text, format)).as("%s read back from:%n%s", format, text).isEqualTo(written);
    }

    static Stream<ConfigFormat> formats() {
        return Stream.of(ConfigFormat.JSON, ConfigFormat.YAML);
    }

    @Test
    void parameterCountsFollowTheFormulaOnEveryShapeAndLayerSelection() {
        configs().forEach(config -> supportedShapes(config).forEach(shape -> {
            for (LayerSelection layers : layerSelections()) {
                long expected = expectedParameterCount(config, shape, layers.resolve(shape.layers()).length);
                long declared = count(config, shape, layers);
                long created = adapter(config, shape, layers).parameterCount();
                assertThat(declared).as("%s on %s, layers %s", config, shape.describe(), layers.toJson())
                        .isEqualTo(expected);
                assertThat(created).isEqualTo(expected);
            }
        }));
    }

    @Test
    void everyConfigSupportsAtLeastOneShape() {
        configs().forEach(config -> assertThat(supportedShapes(config)).as("%s", config).isNotEmpty());
    }

    @Test
    void adapterTensorsHaveTheDeclaredShapesAndUniqueNames() {
        configs().forEach(config -> supportedShapes(config).forEach(shape -> {
            Adapter a = adapter(config, shape, LayerSelection.ALL);
            Set<String> names = new HashSet<>();
            for (ParameterSpec s : a.parameterSpecs()) {
                assertThat(names.add(s.name())).as("unique parameter name %s", s.name()).isTrue();
                assertThat(a.parameter(s.name()).shape()).as(s.name()).isEqualTo(s.shape());
                s.layer().ifPresent(l -> assertThat(l).isBetween(0, shape.layers() - 1));
            }
            assertThat(a.parameters().keySet()).containsExactlyElementsOf(names.stream()
                    .sorted((x, y) -> indexOf(a, x) - indexOf(a, y)).toList());
        }));
    }

    private static int indexOf(Adapter a, String name) {
        return a.parameterSpecs().stream().map(ParameterSpec::name).toList().indexOf(name);
    }

    @Test
    void initializationFollowsTheSpecsAndIsReproducible() {
        configs().forEach(config -> supportedShapes(config).forEach(shape -> {
            Adapter a = adapter(config, shape, LayerSelection.ALL);
            Adapter b = adapter(config, shape, LayerSelection.ALL);
            for (ParameterSpec s : a.parameterSpecs()) {
                Tensor t = a.parameter(s.name());
                if (s.initializer().isZero()) {
                    assertThat(t.isZero()).as("%s starts at zero", s.name()).isTrue();
                } else if (t.size() > 1) {
                    assertThat(t.isZero()).as("%s is initialised by %s", s.name(), s.initializer()).isFalse();
                }
                assertThat(t.data()).as("same seed, same %s", s.name()).isEqualTo(b.parameter(s.name()).data());
            }
        }));
    }

    @Test
    void adaptersFeedOnlyTheHooksTheProviderDeclares() {
        configs().forEach(config -> supportedShapes(config).forEach(shape -> {
            Adapter a = adapter(config, shape, LayerSelection.ALL);
            assertThat(a.hooks()).isNotEmpty();
            assertThat(provider().hooks()).containsAll(a.hooks());
            assertThat(Hook.kindsOf(a)).isEqualTo(a.hooks());
            assertThat(a.method()).isEqualTo(methodName());
        }));
    }

    @Test
    void selectingFewerLayersNeverAddsParameters() {
        if (!provider().perLayer()) {
            return;
        }
        configs().forEach(config -> supportedShapes(config).forEach(shape -> assertThat(
                count(config, shape, LayerSelection.of(0))).isLessThanOrEqualTo(
                count(config, shape, LayerSelection.ALL))));
    }

    // --- helpers usable by subclasses ---

    protected final Adapter adapter(Record config, ModelShape shape, LayerSelection layers) {
        return new AdapterFactory(methods()).create(new AdapterConfig("contract", methodName(), layers, config), shape,
                AdapterFactory.seeded(7));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    protected final long count(Record config, ModelShape shape, LayerSelection layers) {
        PeftMethodProvider p = provider();
        return p.parameterCount(config, shape, layers);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    protected final List<?> problemsFor(Record config, ModelShape shape) {
        PeftMethodProvider p = provider();
        return p.problems(config, shape);
    }
}
