package org.ssmpeft.api.guice;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.Guice;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.testing.TestMethods;

class PeftModuleTest {

    @Test
    void bindsTheRegistryAndAConfigDrivenFactory() {
        var injector = Guice.createInjector(new PeftModule(TestMethods.registry()));
        AdapterFactory factory = injector.getInstance(AdapterFactory.class);
        assertThat(injector.getInstance(PeftMethods.class).names()).containsExactly("test-bias", "test-tokens");
        assertThat(injector.getInstance(AdapterFactory.class)).isSameAs(factory);
        var configs = injector.getInstance(AdapterConfigReader.class).parse("{\"method\": \"test-bias\"}",
                ConfigFormat.JSON);
        var viaGuice = factory.create(configs, ModelShape.preset("mamba-tiny").orElseThrow(), 5);
        var plain = new AdapterFactory(TestMethods.registry()).create(configs,
                ModelShape.preset("mamba-tiny").orElseThrow(), 5);
        assertThat(viaGuice.names()).isEqualTo(plain.names());
        assertThat(viaGuice.get("default").parameters().keySet()).isEqualTo(plain.get("default").parameters().keySet());
    }
}
