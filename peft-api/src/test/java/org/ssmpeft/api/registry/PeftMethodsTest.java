package org.ssmpeft.api.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.testing.TestMethods;

class PeftMethodsTest {

    @Test
    void findsAProviderByItsName() {
        assertThat(TestMethods.registry().forName("test-bias")).isInstanceOf(TestMethods.BiasProvider.class);
        assertThat(TestMethods.registry().names()).containsExactly("test-bias", "test-tokens");
    }

    @Test
    void anUnknownNameListsTheInstalledOnesAndTheClosest() {
        assertThatThrownBy(() -> TestMethods.registry().forName("test-bais"))
                .isInstanceOf(UnknownMethodException.class)
                .hasMessage("unknown PEFT method 'test-bais'; did you mean 'test-bias'?; installed: test-bias,"
                        + " test-tokens");
    }

    @Test
    void twoProvidersWithOneNameFailNamingBothClasses() {
        assertThatThrownBy(() -> PeftMethods.of(List.of(new TestMethods.BiasProvider(),
                new TestMethods.ImpostorBiasProvider())))
                .hasMessageContaining("two PEFT method providers are named 'test-bias'")
                .hasMessageContaining(TestMethods.BiasProvider.class.getName())
                .hasMessageContaining(TestMethods.ImpostorBiasProvider.class.getName());
    }

    @Test
    void anEmptyRegistrySaysNothingIsInstalled() {
        assertThatThrownBy(() -> PeftMethods.of(List.of()).forName("lora"))
                .hasMessageContaining("installed: none (no PEFT method jar on the class path or module path)");
    }

    @Test
    void discoversProvidersListedInMetaInfServices(@TempDir Path dir) throws Exception {
        Path services = dir.resolve("META-INF/services/org.ssmpeft.api.spi.PeftMethodProvider");
        Files.createDirectories(services.getParent());
        Files.writeString(services, "# a comment line\n" + TestMethods.TokensProvider.class.getName() + "\n");
        try (var loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            assertThat(PeftMethods.load(loader).names()).contains("test-tokens");
        }
    }

    @Test
    void aServicesEntryNamingAMissingClassFailsWithItsName(@TempDir Path dir) throws Exception {
        Path services = dir.resolve("META-INF/services/org.ssmpeft.api.spi.PeftMethodProvider");
        Files.createDirectories(services.getParent());
        Files.writeString(services, "com.example.NoSuchProvider\n");
        try (var loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            assertThatThrownBy(() -> PeftMethods.load(loader))
                    .hasMessageContaining("a PEFT method plugin could not be loaded")
                    .hasMessageContaining("com.example.NoSuchProvider");
        }
    }
}
