package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A method written by a third party, compiled against peft-api alone and packaged as its own jar, shows up in
 * {@code peft methods} and is usable in configs, with no change to the framework.
 */
class ExtraJarPluginTest {

    private static final String SOURCE = """
            package com.example.echo;

            import java.util.List;
            import java.util.Optional;
            import java.util.Set;
            import org.ssmpeft.api.adapter.*;
            import org.ssmpeft.api.config.*;
            import org.ssmpeft.api.hooks.*;
            import org.ssmpeft.api.shape.ModelShape;
            import org.ssmpeft.api.spi.PeftMethodProvider;
            import org.ssmpeft.api.tensor.Tensor;

            public final class EchoProvider implements PeftMethodProvider<EchoProvider.Config> {
                public record Config(@Doc("how loud the echo is") @Range(min = 1, max = 11) int volume) { }

                public String name() { return "echo-offset"; }
                public String description() { return "Echo: a third-party output offset"; }
                public Class<Config> configType() { return Config.class; }
                public Config defaultConfig() { return new Config(3); }
                public Set<HookKind> hooks() { return Set.of(HookKind.OUTPUT_OFFSET); }

                public List<ParameterSpec> parameterSpecs(Config c, ModelShape s, LayerSelection layers) {
                    return java.util.Arrays.stream(layers.resolve(s.layers())).mapToObj(l -> ParameterSpec.perLayer(
                            l, "echo", new Initializer.Zeros(), HookKind.OUTPUT_OFFSET, false, s.dInner())).toList();
                }

                public Adapter create(AdapterContext<Config> ctx) {
                    return new Echo(ctx, parameterSpecs(ctx.config(), ctx.shape(), ctx.layers()));
                }

                static final class Echo extends Adapter implements OutputOffsetHook {
                    Echo(AdapterContext<Config> ctx, List<ParameterSpec> specs) { super(ctx, specs); }
                    public Optional<Tensor> outputOffset(int layer) { return layerParameter(layer, "echo"); }
                }
            }
            """;

    @TempDir
    static Path work;
    static Path pluginDir;

    @BeforeAll
    static void buildPluginJar() throws IOException {
        Path src = work.resolve("src/com/example/echo/EchoProvider.java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, SOURCE);
        Path classes = work.resolve("classes");
        Files.createDirectories(classes);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(null, null, null, "-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
                "--release", "25", src.toString());
        assertThat(rc).as("the plugin compiles against peft-api").isZero();
        pluginDir = work.resolve("plugins");
        Files.createDirectories(pluginDir);
        try (var jar = new JarOutputStream(Files.newOutputStream(pluginDir.resolve("echo-plugin.jar")))) {
            jar.putNextEntry(new JarEntry("META-INF/services/org.ssmpeft.api.spi.PeftMethodProvider"));
            jar.write("com.example.echo.EchoProvider\n".getBytes(StandardCharsets.UTF_8));
            try (var files = Files.walk(classes)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    jar.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                    try (OutputStream unused = OutputStream.nullOutputStream()) {
                        jar.write(Files.readAllBytes(f));
                    }
                }
            }
        }
    }

    @Test
    void aPluginJarOnTheClassPathShowsUpInPeftMethods() throws Exception {
        Path config = work.resolve("echo.yaml");
        Files.writeString(config, "method: echo-offset\nvolume: 11\nlayers: [1]\n");
        String classPath = System.getProperty("java.class.path") + File.pathSeparator
                + pluginDir.resolve("echo-plugin.jar");
        String methods = runJava(classPath, "methods");
        assertThat(methods).contains("9 PEFT methods installed")
                .contains("echo-offset\n  Echo: a third-party output offset")
                .contains("volume               integer in [1, 11] (default 3)")
                .contains("provided by: com.example.echo.EchoProvider");
        assertThat(runJava(classPath, "config", "validate", config.toString(), "--shape", "mamba-130m"))
                .contains("default: echo-offset, layers [1], 1,536 trainable parameters on mamba-130m");
    }

    @Test
    void aPluginDirectoryIsLoadedWithPluginsOption() {
        Cli r = Cli.run("--plugins", pluginDir.toString(), "methods");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("9 PEFT methods installed").contains("echo-offset");
        assertThat(Cli.run("methods").out()).doesNotContain("echo-offset");
    }

    private static String runJava(String classPath, String... args) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        var cmd = new java.util.ArrayList<>(List.of(java.toString(), "-cp", classPath,
                PeftCommand.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }
}
