package org.ssmpeft.api.composition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;
import org.ssmpeft.api.testing.TestMethods;

/** One composition check: configs (what validate sees) and adapters (what train and AdapterSet see) agree. */
class CompositionTest {

    private static final ModelShape TINY = ModelShape.preset("mamba-tiny").orElseThrow();
    private final AdapterFactory factory = new AdapterFactory(TestMethods.registry());

    private static AdapterConfig bias(String name) {
        return new AdapterConfig(name, "test-bias", LayerSelection.ALL, TestMethods.BiasConfig.DEFAULT);
    }

    private static AdapterConfig tokens(String name) {
        return new AdapterConfig(name, "test-tokens", LayerSelection.ALL, new TestMethods.TokensConfig(2));
    }

    @Test
    void twoPromptsAreRefusedByTheConfigsAndByTheFactoryWithOneMessage() {
        List<AdapterConfig> two = List.of(tokens("p1"), bias("b"), tokens("p2"));
        String message = "adapters 'p1' and 'p2' both prepend virtual tokens at the embedding input; virtual-token"
                + " sequences do not add up, so only one of them can act at a time (disable or deactivate one, or"
                + " keep one of them in the config)";

        assertThat(factory.compositionProblems(two)).containsExactly(new ConfigProblem("", message));
        assertThatThrownBy(() -> factory.checkComposition(two)).isInstanceOf(CompositionException.class)
                .hasMessage(message);
        assertThatThrownBy(() -> factory.create(two, TINY, 1)).isInstanceOf(CompositionException.class)
                .hasMessage(message);
        AdapterSet set = new AdapterSet(TINY).add(factory.create(two.get(0), TINY, AdapterFactory.seeded(1)));
        assertThatThrownBy(() -> set.add(factory.create(two.get(2), TINY, AdapterFactory.seeded(1))))
                .isInstanceOf(CompositionException.class).hasMessage(message);
    }

    @Test
    void threePromptsGiveEveryConflict() {
        List<AdapterConfig> three = List.of(tokens("p1"), tokens("p2"), tokens("p3"));

        assertThat(factory.compositionProblems(three)).extracting(ConfigProblem::message).satisfiesExactly(
                m -> assertThat(m).startsWith("adapters 'p1' and 'p2' both prepend"),
                m -> assertThat(m).startsWith("adapters 'p1' and 'p3' both prepend"));
        assertThatThrownBy(() -> factory.create(three, TINY, 1)).hasMessage(String.join("; ",
                factory.compositionProblems(three).stream().map(ConfigProblem::message).toList()));
    }

    /** Every list of up to three adapters: the configs are refused exactly when the adapters are, same message. */
    @Test
    void theConfigCheckAndTheAdapterSetAgreeOnEveryCombination() {
        List<List<AdapterConfig>> lists = new ArrayList<>();
        List<String> kinds = List.of("b", "t");
        for (int n = 1; n <= 3; n++) {
            for (int code = 0; code < 1 << n; code++) {
                List<AdapterConfig> l = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    String kind = kinds.get((code >> i) & 1);
                    l.add(kind.equals("b") ? bias("a" + i) : tokens("a" + i));
                }
                lists.add(l);
            }
        }
        for (List<AdapterConfig> l : lists) {
            List<ConfigProblem> byConfigs = factory.compositionProblems(l);
            Optional<String> byAdapters;
            try {
                AdapterSet set = new AdapterSet(TINY);
                for (AdapterConfig c : l) {
                    set.add(factory.create(c, TINY, AdapterFactory.seeded(1)));
                }
                byAdapters = Optional.empty();
            } catch (CompositionException e) {
                byAdapters = Optional.of(e.getMessage());
            }
            assertThat(byConfigs.isEmpty()).as(l.toString()).isEqualTo(byAdapters.isEmpty());
            byAdapters.ifPresent(m -> assertThat(byConfigs.getFirst().message()).isEqualTo(m));
        }
    }

    @Test
    void aProviderWhoseAdaptersDoNotDoWhatItDeclaresIsRefused() {
        // declares no input hook (the default: INPUT is not among its hooks) but makes a prompt
        var liar = new BasePeftMethodProvider<TestMethods.BiasConfig>("test-bias", "makes prompts",
                TestMethods.BiasConfig.class, TestMethods.BiasConfig.DEFAULT, true, HookKind.OUTPUT_OFFSET) {
            @Override
            public List<ParameterSpec> parameterSpecs(TestMethods.BiasConfig c, ModelShape s, LayerSelection l) {
                return List.of();
            }

            @Override
            public Adapter create(AdapterContext<TestMethods.BiasConfig> context) {
                return new TestMethods.TokensProvider().create(new AdapterContext<>(context.name(), "test-tokens",
                        new TestMethods.TokensConfig(2), context.shape(), LayerSelection.ALL));
            }
        };
        var f = new AdapterFactory(PeftMethods.of(List.of(liar)));

        assertThatThrownBy(() -> f.create(bias("x"), TINY, AdapterFactory.seeded(1)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("method 'test-bias' declares that its adapters prepend no virtual tokens"
                        + " (PeftMethodProvider.inputPlacement), but adapter 'x' prepends them at the embedding"
                        + " input; the provider must declare what its adapters do");
    }

    @Test
    void theDefaultPlacementFollowsTheHookAndPerLayer() {
        assertThat(new TestMethods.TokensProvider().inputPlacement(new TestMethods.TokensConfig(2)))
                .contains(InputHook.Placement.EMBEDDING);
        assertThat(new TestMethods.BiasProvider().inputPlacement(TestMethods.BiasConfig.DEFAULT)).isEmpty();
    }
}
