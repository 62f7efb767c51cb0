package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.lang.module.Configuration;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * On the module path, methods are found through the {@code provides} clauses of their module descriptors: the
 * framework and plugin modules are resolved into a fresh module layer (service binding pulls in every module that
 * provides {@code PeftMethodProvider}) and the registry of that layer lists them.
 */
class ModulePathDiscoveryTest {

    @Test
    void pluginModulesAreDiscoveredThroughTheirModuleDescriptors() throws Exception {
        Path[] modulePath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(Path::of)
                // in a reactor build target/classes (or the module jars), from a local repository the jars
                .filter(p -> p.toString().matches(".*/peft-(api|state-offset|prefix|lora)/target/classes")
                        || p.getFileName().toString().matches("(peft-(api|state-offset|prefix|lora)-[0-9].*"
                        + "|jackson-.*|snakeyaml-.*)\\.jar"))
                .filter(p -> !p.getFileName().toString().endsWith("-tests.jar"))
                .toArray(Path[]::new);
        Configuration cf = ModuleLayer.boot().configuration().resolveAndBind(ModuleFinder.of(modulePath),
                ModuleFinder.of(), Set.of("org.ssmpeft.api"));
        assertThat(cf.modules()).extracting(m -> m.name())
                .contains("org.ssmpeft.stateoffset", "org.ssmpeft.prefix", "org.ssmpeft.lora");
        ModuleLayer layer = ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
        ClassLoader loader = layer.findLoader("org.ssmpeft.api");

        Class<?> registry = loader.loadClass("org.ssmpeft.api.registry.PeftMethods");
        assertThat(registry.getModule().isNamed()).isTrue();
        Object methods = registry.getMethod("load", ModuleLayer.class).invoke(null, layer);
        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) registry.getMethod("names").invoke(methods);
        assertThat(names).containsExactly("additional-scan", "bitfit", "full-ft", "initial-state", "lora",
                "partial-ft", "prefix", "prompt", "sdlora", "state-offset");

        // configs bind onto the plugin's record across module boundaries
        Class<?> reader = loader.loadClass("org.ssmpeft.api.config.AdapterConfigReader");
        Class<?> format = loader.loadClass("org.ssmpeft.api.config.ConfigFormat");
        Object r = reader.getConstructor(registry).newInstance(methods);
        @SuppressWarnings({"unchecked", "rawtypes"})
        Object json = Enum.valueOf((Class) format, "JSON");
        List<?> parsed = (List<?>) reader.getMethod("parse", String.class, format).invoke(r,
                "{\"method\": \"lora\", \"rank\": 2, \"targets\": [\"out_proj\"]}", json);
        assertThat(parsed).singleElement().asString().contains("LoraConfig[rank=2, alpha=8.0");
    }
}
