package org.ssmpeft.api.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.testing.TestMethods;
import org.ssmpeft.api.testing.TestMethods.BiasConfig;

class AdapterConfigReaderTest {

    private final AdapterConfigReader reader = new AdapterConfigReader(TestMethods.registry());

    private List<String> problems(String json) {
        List<ConfigProblem> out = new ArrayList<>();
        reader.parse(json, ConfigFormat.JSON, Optional.empty(), out);
        return out.stream().map(ConfigProblem::toString).toList();
    }

    @Test
    void aSingleAdapterTakesDefaultsAndTheNameDefault() {
        List<AdapterConfig> a = reader.parse("{\"method\": \"test-bias\", \"width\": 3}", ConfigFormat.JSON);
        assertThat(a).singleElement().satisfies(c -> {
            assertThat(c.name()).isEqualTo("default");
            assertThat(c.layers()).isEqualTo(LayerSelection.ALL);
            assertThat(c.config()).isEqualTo(new BiasConfig(3, 0.5, false, "x", TestMethods.Mode.PLAIN,
                    List.of(TestMethods.Color.RED), List.of(1, 2)));
        });
    }

    @Test
    void everyFieldTypeBinds() {
        var c = (BiasConfig) reader.parse("""
                method: test-bias
                width: 8
                scale: 0.25
                frozen: true
                label: hello
                mode: plain
                colors: [dark-blue, red]
                slots: [0, 9]
                layers: "0-2, 5"
                """, ConfigFormat.YAML).getFirst().config();
        assertThat(c).isEqualTo(new BiasConfig(8, 0.25, true, "hello", TestMethods.Mode.PLAIN,
                List.of(TestMethods.Color.DARK_BLUE, TestMethods.Color.RED), List.of(0, 9)));
    }

    @Test
    void severalAdaptersAsAListOrKeyedByName() {
        var list = reader.parse("{\"adapters\": [{\"name\": \"a\", \"method\": \"test-bias\", \"layers\": [1]},"
                + " {\"name\": \"b\", \"method\": \"test-tokens\", \"count\": 4}]}", ConfigFormat.JSON);
        var map = reader.parse("adapters:\n  a: {method: test-bias, layers: [1]}\n  b: {method: test-tokens,"
                + " count: 4}\n", ConfigFormat.YAML);
        assertThat(list).isEqualTo(map);
        assertThat(list).extracting(AdapterConfig::name).containsExactly("a", "b");
        assertThat(list.getFirst().layers()).isEqualTo(LayerSelection.of(1));
    }

    @Test
    void reportsEveryProblemOfAFileAtOnce() {
        assertThat(problems("""
                {"adapters": [
                  {"name": "a", "method": "test-bias", "width": 0, "scale": "big", "colour": ["red"]},
                  {"name": "b", "method": "nope"},
                  {"name": "a", "method": "test-tokens"}
                ]}""")).containsExactly(
                "adapters[0].colour: unknown field; did you mean 'colors'?; known fields: width, scale, frozen, label,"
                        + " mode, colors, slots, name, method, layers",
                "adapters[0].width: expected a value in [1, 8], found 0",
                "adapters[0].scale: expected a number in [0, 1], found string \"big\"",
                "adapters[1].method: unknown PEFT method 'nope'; installed: test-bias, test-tokens",
                "adapters[2].name: duplicate adapter name \"a\"; names must be unique in a file");
    }

    @Test
    void enumsListTheirSpellings() {
        assertThat(problems("{\"method\": \"test-bias\", \"mode\": \"fancy-mod\", \"colors\": [\"red\", 3]}"))
                .containsExactly(
                        "mode: expected one of plain, fancy-mode, found string \"fancy-mod\"; did you mean 'fancy-mode'?",
                        "colors[1]: expected one of red, dark-blue, found number 3");
    }

    @Test
    void theRecordConstructorsChecksAreReportedAtTheirField() {
        assertThat(problems("{\"method\": \"test-bias\", \"mode\": \"fancy-mode\", \"frozen\": true}"))
                .containsExactly("mode: fancy-mode cannot be frozen; set frozen to false");
    }

    @Test
    void listElementsAreRangeChecked() {
        assertThat(problems("{\"method\": \"test-bias\", \"slots\": [1, 10], \"width\": 2.5}")).containsExactly(
                "width: expected an integer in [1, 8], found number 2.5", "slots[1]: expected a value in [0, 9], found 10");
    }

    @Test
    void syntaxErrorsGiveTheirPosition() {
        assertThat(problems("{\"method\": \"test-bias\",\n \"width\": }")).singleElement().asString()
                .startsWith("not valid JSON at line 2, column 11: ");
        List<ConfigProblem> out = new ArrayList<>();
        reader.parse("method: [unclosed\n", ConfigFormat.YAML, Optional.empty(), out);
        assertThat(out).singleElement().asString().startsWith("not valid YAML at line");
    }

    @Test
    void duplicateKeysAreRefused() {
        assertThat(problems("{\"method\": \"test-bias\", \"width\": 2, \"width\": 3}")).singleElement().asString()
                .contains("Duplicate field 'width'");
    }

    @Test
    void wholeModelMethodsRefuseALayerSelection() {
        assertThat(problems("{\"method\": \"test-tokens\", \"layers\": [0]}")).containsExactly(
                "layers: method 'test-tokens' acts on the whole model, not per layer; remove 'layers' or set it to"
                        + " \"all\"");
    }

    @Test
    void layersAreCheckedAgainstTheModelWhenOneIsGiven(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("a.yaml");
        Files.writeString(f, "method: test-bias\nlayers: 1-30\n");
        assertThat(reader.check(f, Optional.empty())).isEmpty();
        assertThat(reader.check(f, ModelShape.preset("mamba-130m"))).map(ConfigProblem::toString).containsExactly(
                "layers: layer 30 does not exist; the model has 24 layers (0-23)");
    }

    @Test
    void readThrowsWithEveryProblemAndTheFileName(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "[1, 2]");
        assertThatThrownBy(() -> reader.read(f)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("invalid config " + f + " (1 problem)")
                .hasMessageContaining("expected an adapter ({\"method\": ...}) or {\"adapters\": [...]}, found a list");
    }

    @Test
    void writeThenParseGivesEqualConfigs() {
        var configs = List.of(new AdapterConfig("one", "test-bias", LayerSelection.of(0, 1, 2, 7), BiasConfig.DEFAULT),
                new AdapterConfig("two", "test-tokens", LayerSelection.ALL, new TestMethods.TokensConfig(9)));
        for (ConfigFormat f : ConfigFormat.values()) {
            assertThat(reader.parse(reader.write(configs, f), f)).isEqualTo(configs);
        }
    }
}
