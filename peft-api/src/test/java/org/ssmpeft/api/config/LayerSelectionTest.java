package org.ssmpeft.api.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LayerSelectionTest {

    private static LayerSelection parse(String json, List<ConfigProblem> problems) throws Exception {
        return LayerSelection.parse(new ObjectMapper().readTree(json), "layers", problems).orElse(null);
    }

    @Test
    void acceptsAllIndicesRangesAndStrings() throws Exception {
        List<ConfigProblem> p = new ArrayList<>();
        assertThat(parse("\"all\"", p)).isEqualTo(LayerSelection.ALL);
        assertThat(parse("3", p).resolve(24)).containsExactly(3);
        assertThat(parse("[0, \"4-6\", 2, 2]", p).resolve(24)).containsExactly(0, 2, 4, 5, 6);
        assertThat(parse("\"0-1, 8\"", p).resolve(24)).containsExactly(0, 1, 8);
        assertThat(p).isEmpty();
    }

    @Test
    void writesCompactRangesThatParseBack() throws Exception {
        LayerSelection s = LayerSelection.of(0, 1, 2, 5, 7, 8);
        assertThat(s.toJson().toString()).isEqualTo("[\"0-2\",5,\"7-8\"]");
        assertThat(parse(s.toJson().toString(), new ArrayList<>())).isEqualTo(s);
    }

    @Test
    void refusesNegativeReversedHugeAndEmptySelections() throws Exception {
        List<ConfigProblem> p = new ArrayList<>();
        parse("[-1, \"5-2\", \"0-99999999\", true]", p);
        parse("[]", p);
        assertThat(p).map(ConfigProblem::toString).containsExactly(
                "layers[0]: expected a layer index in [0, 65535], found -1",
                "layers[1]: layer range \"5-2\" is empty: expected start <= end",
                "layers[2]: expected layer indices below 65536, found \"0-99999999\"",
                "layers[3]: expected \"all\", a layer index or a range like \"4-7\", found boolean true",
                "layers: expected \"all\" or at least one layer, found an empty selection");
    }
}
