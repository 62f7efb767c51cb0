package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The third-party plugin of {@code examples/state-offset-lowrank}, as its build packaged it, is found at run time:
 * on a child JVM's class path, in a {@code --plugins} directory and on the module path. This module never depends
 * on it at build time (its pom names it with type pom, for the build order only), so without the jar the program does
 * not know the method.
 *
 * <p>The jar's path comes from the system property {@code peft.plugin.jar} (set by this module's surefire
 * configuration); when a build stopped before the package phase, the plugin's compiled classes
 * ({@code peft.plugin.classes}) are packed into a jar here instead.
 */
class PluginJarTest {

    private static final String METHOD = "state-offset-lowrank";

    @TempDir
    static Path work;
    static Path pluginJar;

    @BeforeAll
    static void findThePluginJar() throws IOException {
        Path jar = Path.of(System.getProperty("peft.plugin.jar", "state-offset-lowrank.jar"));
        Path classes = Path.of(System.getProperty("peft.plugin.classes", "state-offset-lowrank/classes"));
        boolean classesBuilt = Files.isRegularFile(classes.resolve("module-info.class"));
        if (Files.isRegularFile(jar) && (!classesBuilt || newestFile(classes).compareTo(modified(jar)) <= 0)) {
            pluginJar = jar;
        } else if (classesBuilt) {
            pluginJar = pack(classes, work.resolve("state-offset-lowrank.jar"));
        } else {
            fail("the plugin jar " + jar + " (and its classes " + classes + ") are missing: build the plugin"
                    + " first, e.g. ./mvnw -pl examples -am verify, which builds examples/state-offset-lowrank"
                    + " before examples");
        }
    }

    @Test
    void theProgramAloneDoesNotKnowTheMethod() {
        assertThat(System.getProperty("java.class.path")).doesNotContain(METHOD);
        assertThat(Cli.run("methods").out()).doesNotContain(METHOD);
    }

    @Test
    void onTheClassPathOfAChildJvmItIsListedAndUsableInConfigs() throws Exception {
        String classPath = System.getProperty("java.class.path") + File.pathSeparator + pluginJar;
        assertThat(runJava(classPath, "methods"))
                .contains((builtIn() + 1) + " PEFT methods installed")
                .contains(METHOD + "\n  State-offset Tuning with a low-rank offset h' = U·V")
                .contains("hooks: state:offset")
                .contains("trainable parameters: 148,992")
                .contains("rank                 integer in [1, 4096] (default 4)")
                .contains("provided by: com.example.lowrank.LowRankStateOffsetProvider");
        Path config = work.resolve("lowrank.yaml");
        Files.writeString(config, "method: state-offset-lowrank\nrank: 8\nlayers: \"0-11\"\n");
        assertThat(runJava(classPath, "config", "validate", config.toString(), "--shape", "mamba-130m"))
                .contains("OK, 1 adapter")
                // 12 layers · 8 · (1536 + 16)
                .contains("default: state-offset-lowrank, layers [\"0-11\"], 148,992 trainable parameters on"
                        + " mamba-130m");
    }

    @Test
    void inAPluginsDirectoryItIsListedAndItsChecksApply() throws Exception {
        Path dir = Files.createDirectories(work.resolve("plugins"));
        Files.copy(pluginJar, dir.resolve("state-offset-lowrank.jar"));
        Cli methods = Cli.run("--plugins", dir.toString(), "methods");
        assertThat(methods.exitCode()).as(methods.err()).isZero();
        assertThat(methods.out()).contains((builtIn() + 1) + " PEFT methods installed").contains(METHOD);

        Path tooWide = work.resolve("too-wide.json");
        Files.writeString(tooWide, "{\"method\": \"state-offset-lowrank\", \"rank\": 17}");
        Cli check = Cli.run("--plugins", dir.toString(), "config", "validate", tooWide.toString(), "--shape",
                "mamba-130m");
        assertThat(check.exitCode()).isEqualTo(1);
        assertThat(check.out()).contains("rank: expected at most d_state = 16");
    }

    /** The module descriptor's provides clause is enough: the plugin is bound as a service provider of peft-api. */
    @Test
    void onTheModulePathItIsFoundThroughItsModuleDescriptor() throws Exception {
        List<Path> modulePath = new ArrayList<>(Arrays.stream(System.getProperty("java.class.path")
                        .split(File.pathSeparator)).map(Path::of)
                .filter(p -> p.toString().matches(".*/peft-api/target/classes")
                        || p.getFileName().toString().matches("(peft-api-[0-9].*|jackson-.*|snakeyaml-.*)\\.jar"))
                .filter(p -> !p.getFileName().toString().endsWith("-tests.jar"))
                .toList());
        modulePath.add(pluginJar);
        Configuration cf = ModuleLayer.boot().configuration().resolveAndBind(
                ModuleFinder.of(modulePath.toArray(Path[]::new)), ModuleFinder.of(), Set.of("org.ssmpeft.api"));
        assertThat(cf.findModule("com.example.lowrank")).as("bound as a provider").isPresent();
        ModuleLayer layer = ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
        Class<?> registry = layer.findLoader("org.ssmpeft.api").loadClass("org.ssmpeft.api.registry.PeftMethods");
        Object methods = registry.getMethod("load", ModuleLayer.class).invoke(null, layer);
        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) registry.getMethod("names").invoke(methods);
        assertThat(names).containsExactly(METHOD);
    }

    private static String runJava(String classPath, String... args) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        var cmd = new ArrayList<>(List.of(java.toString(), "-cp", classPath, PeftCommand.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private static FileTime modified(Path p) throws IOException {
        return Files.getLastModifiedTime(p);
    }

    private static FileTime newestFile(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            FileTime newest = FileTime.fromMillis(0);
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                FileTime t = modified(f);
                newest = t.compareTo(newest) > 0 ? t : newest;
            }
            return newest;
        }
    }

    /** The plugin's classes as a jar, as its build would have packaged them. */
    private static Path pack(Path classes, Path jarFile) throws IOException {
        try (var jar = new JarOutputStream(Files.newOutputStream(jarFile));
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                jar.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                jar.write(Files.readAllBytes(f));
            }
        }
        return jarFile;
    }

    /** The methods this build installs; the plugin under test comes on top. */
    private static int builtIn() {
        return org.ssmpeft.api.registry.PeftMethods.load().names().size();
    }
}
