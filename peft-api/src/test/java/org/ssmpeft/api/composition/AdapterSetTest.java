package org.ssmpeft.api.composition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.testing.TestMethods;

class AdapterSetTest {

    private static final ModelShape TINY = ModelShape.preset("mamba-tiny").orElseThrow();
    private final AdapterFactory factory = new AdapterFactory(TestMethods.registry());

    private Adapter bias(String name, ModelShape shape) {
        return factory.create(new AdapterConfig(name, "test-bias", LayerSelection.ALL,
                TestMethods.BiasConfig.DEFAULT), shape, AdapterFactory.seeded(1));
    }

    private Adapter tokens(String name) {
        return factory.create(new AdapterConfig(name, "test-tokens", LayerSelection.ALL,
                new TestMethods.TokensConfig(3)), TINY, AdapterFactory.seeded(1));
    }

    @Test
    void addedAdaptersActAndTheirContributionsAreListedForSumming() {
        AdapterSet set = new AdapterSet(TINY).add(bias("a", TINY)).add(bias("b", TINY));
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("a", "b");
        assertThat(set.acting(OutputOffsetHook.class)).hasSize(2);
        assertThat(set.actingParameterCount()).isEqualTo(2 * 2 * 128);
    }

    @Test
    void activateDisableEnableAndRemoveByName() {
        AdapterSet set = new AdapterSet(TINY).add(bias("a", TINY)).add(bias("b", TINY)).add(tokens("p"));
        set.activate("p", "a");
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("p", "a");
        set.disable("a");
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("p");
        assertThat(set.isEnabled("a")).isFalse();
        set.enable("a").disableAll();
        assertThat(set.acting()).isEmpty();
        set.enableAll();
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("p", "a");
        assertThat(set.remove("a").name()).isEqualTo("a");
        assertThat(set.names()).containsExactly("b", "p");
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("p");
    }

    @Test
    void anAdapterForAnotherShapeIsRefusedNamingBoth() {
        ModelShape other = ModelShape.mamba(2, 32, 16, 256);
        assertThatThrownBy(() -> new AdapterSet(TINY).add(bias("a", other)))
                .isInstanceOf(CompositionException.class)
                .hasMessageContaining("adapter 'a' is sized for " + other.describe())
                .hasMessageContaining("but this model is " + TINY.describe());
    }

    @Test
    void aSecondAdapterWithTheSameNameIsRefused() {
        AdapterSet set = new AdapterSet(TINY).add(bias("a", TINY));
        assertThatThrownBy(() -> set.add(bias("a", TINY))).hasMessageContaining("an adapter named 'a' is already"
                + " attached");
    }

    @Test
    void twoActingPromptsAtTheSameInputAreRefusedButMayTakeTurns() {
        AdapterSet set = new AdapterSet(TINY).add(tokens("p1"));
        assertThatThrownBy(() -> set.add(tokens("p2")))
                .hasMessageContaining("adapters 'p1' and 'p2' both prepend virtual tokens at the embedding input");
        assertThat(set.names()).containsExactly("p1");
        set.disable("p1");
        set.add(tokens("p2"));
        assertThat(set.acting(InputHook.class)).extracting(h -> ((Adapter) h).name()).containsExactly("p2");
        assertThatThrownBy(() -> set.enable("p1")).isInstanceOf(CompositionException.class);
        set.activate("p1");
        set.enable("p1");
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("p1");
    }

    @Test
    void unknownNamesListTheAttachedOnes() {
        AdapterSet set = new AdapterSet(TINY).add(bias("a", TINY));
        assertThatThrownBy(() -> set.activate("b")).hasMessage("no adapter named 'b'; attached: a");
    }

    @Test
    void theFactoryRefusesLayersTheModelLacks() {
        assertThatThrownBy(() -> factory.create(new AdapterConfig("x", "test-bias", LayerSelection.of(5),
                TestMethods.BiasConfig.DEFAULT), TINY, AdapterFactory.seeded(1)))
                .hasMessageContaining("layers: layer 5 does not exist; the model has 2 layers (0-1)");
    }

    @Test
    void aSnapshotKeepsTheStackOfItsMomentSharesTheAdaptersAndRefusesChanges() {
        AdapterSet set = new AdapterSet(TINY).add(bias("a", TINY)).add(bias("b", TINY)).add(tokens("p"));
        set.activate("p", "a").disable("a");
        AdapterSet snap = set.snapshot();
        set.enable("a").activate("b").remove("p");

        assertThat(snap.isFrozen()).isTrue();
        assertThat(snap.names()).containsExactly("a", "b", "p");
        assertThat(snap.activeNames()).containsExactly("p", "a");
        assertThat(snap.acting()).extracting(Adapter::name).containsExactly("p");
        assertThat(snap.get("b")).isSameAs(set.get("b"));
        assertThat(snap.snapshot()).isSameAs(snap);
        assertThat(set.acting()).extracting(Adapter::name).containsExactly("b");
        assertThatThrownBy(() -> snap.activate("a"))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("this adapter set is a frozen snapshot; activate is refused (change the set it was taken"
                        + " from, then take a new snapshot)");
        assertThatThrownBy(() -> snap.add(bias("c", TINY))).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> snap.remove("a")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(snap::disableAll).isInstanceOf(UnsupportedOperationException.class);
        assertThat(snap.names()).containsExactly("a", "b", "p");
    }
}
