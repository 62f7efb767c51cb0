package org.ssmpeft.api.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.registry.PeftMethods;

/** The one strict reader: one value per file, UTF-8 only, clear syntax errors. */
class ConfigFilesTest {

    @TempDir
    Path dir;

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of(ConfigFormat.JSON, "{\"method\":\"lora\"} x",
                        "content after the JSON value at line 1, column 19: found \"x\"; a config file holds one value"),
                Arguments.of(ConfigFormat.JSON, "{\"a\": 1}\n{\"b\": 2}\n",
                        "content after the JSON value at line 2, column 1: found \"{\\\"b\\\": 2}\"; a config file"
                                + " holds one value"),
                Arguments.of(ConfigFormat.JSON, "{\"a\": 1} ]",
                        "content after the JSON value at line 1, column 10: found \"]\""),
                Arguments.of(ConfigFormat.JSON, "1 2", "content after the JSON value at line 1, column 3: found \"2\""),
                Arguments.of(ConfigFormat.YAML, "method: lora\n---\nmethod: prompt\n",
                        "a second YAML document at line 2 (\"---\"); a config file holds one document"),
                Arguments.of(ConfigFormat.YAML, "method: lora\n---\n",
                        "a second YAML document at line 2 (\"---\")"),
                Arguments.of(ConfigFormat.YAML, "method: lora\n# two\n--- x\n",
                        "a second YAML document at line 3 (\"--- x\")"),
                Arguments.of(ConfigFormat.YAML, "{\"method\":\"lora\"} x",
                        "content after the YAML value at line 1, column 19: found \"x\"; a config file holds one"
                                + " document"),
                Arguments.of(ConfigFormat.YAML, "a: [1, 2\n",
                        "not valid YAML at line 2, column 1: expected ',' or ']', but got <stream end> (while parsing"
                                + " a flow sequence at line 1, column 4)"),
                Arguments.of(ConfigFormat.YAML, "a: 1\n  b: 2\n",
                        "not valid YAML at line 2, column 4: mapping values are not allowed here"),
                Arguments.of(ConfigFormat.YAML, "a: &x 1\nb: *x\n",
                        "YAML alias *x at line 2, column 4 is not supported; write the value out"),
                Arguments.of(ConfigFormat.JSON, "{\"a\": 1, \"a\": 2}",
                        "not valid JSON at line 1, column 13: Duplicate field 'a'"),
                Arguments.of(ConfigFormat.YAML, "a: 1\na: 2\n", "not valid YAML at line 2, column 2: Duplicate"
                        + " field 'a'"),
                Arguments.of(ConfigFormat.JSON, "{\"a\": }", "not valid JSON at line 1, column 7: Unexpected"
                        + " character ('}' (code 125))"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("refused")
    void refusesWithWhereAndWhat(ConfigFormat format, String text, String expected) {
        assertThatThrownBy(() -> ConfigFiles.parse(text, format)).isInstanceOf(ConfigFiles.SyntaxException.class)
                .message().startsWith(expected).doesNotContain("in 'reader'").doesNotContain("\n")
                .doesNotContain("snakeyaml");
    }

    static Stream<Arguments> accepted() {
        return Stream.of(
                Arguments.of(ConfigFormat.JSON, "{\"a\": 1}  \n\n", "{\"a\":1}"),
                Arguments.of(ConfigFormat.YAML, "---\na: 1\n", "{\"a\":1}"),
                Arguments.of(ConfigFormat.YAML, "a: 1\n...\n", "{\"a\":1}"),
                Arguments.of(ConfigFormat.YAML, "a: 1 # note\n# end\n", "{\"a\":1}"),
                Arguments.of(ConfigFormat.YAML, "a: &x 1\n", "{\"a\":1}"),
                Arguments.of(ConfigFormat.YAML, "a: \"--- not a document\"\n", "{\"a\":\"--- not a document\"}"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("accepted")
    void acceptsOneValue(ConfigFormat format, String text, String tree) throws Exception {
        assertThat(ConfigFiles.parse(text, format)).hasToString(tree);
    }

    @Test
    void anEmptyTextIsMissing() throws Exception {
        assertThat(ConfigFiles.parse("", ConfigFormat.JSON).isMissingNode()).isTrue();
        assertThat(ConfigFiles.parse("# nothing\n", ConfigFormat.YAML).isMissingNode()).isTrue();
    }

    @Test
    void nonUtf8IsRefusedNamingTheByte() throws Exception {
        Path f = dir.resolve("c.yaml");
        Files.write(f, new byte[] {'a', ':', ' ', '1', '\n', 'b', ':', ' ', (byte) 0xE9, '\n'});
        assertThatThrownBy(() -> ConfigFiles.read(f)).isInstanceOf(ConfigFiles.SyntaxException.class)
                .hasMessage("not UTF-8 text: byte 0xE9 at offset 8 (line 2) is not valid UTF-8; a config file must be"
                        + " saved as UTF-8");
    }

    @Test
    void aByteOrderMarkIsDropped() throws Exception {
        Path f = dir.resolve("c.json");
        Files.write(f, ("\uFEFF{\"a\": 1}").getBytes(StandardCharsets.UTF_8));
        assertThat(ConfigFiles.read(f)).hasToString("{\"a\":1}");
    }

    @Test
    void theMappersRefuseTrailingTokensToo() {
        assertThatThrownBy(() -> ConfigFiles.json().readTree("{\"a\": 1} {}")).hasMessageContaining("Trailing token");
        assertThatThrownBy(() -> ConfigFiles.yaml().readTree("a: 1\n---\nb: 2\n"))
                .hasMessageContaining("Trailing token");
    }

    @Test
    void theAdapterConfigReaderRefusesTrailingContentNamingTheFile() throws Exception {
        AdapterConfigReader reader = new AdapterConfigReader(PeftMethods.of(List.of()));
        Path json = dir.resolve("a.json");
        Files.writeString(json, "{\"method\":\"lora\"} x");
        assertThatThrownBy(() -> reader.read(json)).isInstanceOf(ConfigException.class).hasMessage(
                "invalid config " + json + " (1 problem):\n  content after the JSON value at line 1, column 19: found"
                        + " \"x\"; a config file holds one value");
        Path yaml = dir.resolve("a.yaml");
        Files.writeString(yaml, "method: lora\n---\nmethod: prompt\n");
        assertThatThrownBy(() -> reader.read(yaml)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(yaml.toString()).hasMessageContaining("a second YAML document at line 2");
        Path latin1 = dir.resolve("b.yaml");
        Files.write(latin1, "method: lor\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> reader.read(latin1)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(latin1.toString()).hasMessageContaining("not UTF-8 text: byte 0xE9 at offset 11");
    }

    /** A named pipe would block the read until a writer appears: it is refused at once instead of hanging. */
    @Test
    void aNamedPipeIsRefusedInsteadOfHanging() throws Exception {
        Path fifo = dir.resolve("adapter_config.json");
        org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo(fifo), "mkfifo is not available here");
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () ->
                assertThatThrownBy(() -> ConfigFiles.readText(fifo)).isInstanceOf(java.io.IOException.class)
                        .hasMessageContaining(fifo.toString()).hasMessageContaining("not a regular file"));
        assertThatThrownBy(() -> ConfigFiles.readText(dir)).hasMessageContaining("is a folder");
        assertThatThrownBy(() -> ConfigFiles.readText(dir.resolve("none.json")))
                .isInstanceOf(java.nio.file.NoSuchFileException.class).hasMessageContaining("does not exist");
    }

    static boolean mkfifo(Path path) {
        try {
            return new ProcessBuilder("mkfifo", path.toString()).start().waitFor() == 0;
        } catch (java.io.IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
