package org.ssmpeft.runtime.generate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.adapters.Interop;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * Token ids from Hugging Face transformers' {@code generate} on the public mamba-tiny fixture (greedy; beam search with
 * 3 and 5 beams, min_new_tokens, length penalties -1 to 2, early stopping on and off, with and without an eos that the
 * model produces), recorded by {@code make_interop.py generate} ({@code interop/generate/}): the project's
 * {@link Generator} on the cpu backend produces the same new tokens, exactly, for every case, and the same beam score
 * within {@value #SCORE_TOL} (transformers adds float32 log-probabilities, the generator float64).
 */
class GenerateInteropTest {

    static final double SCORE_TOL = 1e-4;

    @Test
    void everyCaseOfTransformersGenerateIsReproducedTokenForToken() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(Interop.resource("generate/generate.json").toFile())
                .get("cases");
        var model = new CpuMamba(MambaCheckpoint.load(Fixtures.mambaTiny()));
        var generator = new Generator(model, model.noAdapters());
        List<String> mismatches = new ArrayList<>();
        double worstScore = 0;
        int beams = 0;
        int stopped = 0;
        Set<Integer> lengths = new HashSet<>();
        for (JsonNode c : cases) {
            int[] prompt = ints(c.get("prompt"));
            Set<Integer> stops = c.get("eos_token_id").isNull() ? Set.of() : Set.of(c.get("eos_token_id").asInt());
            var options = new GenerationOptions(c.get("max_new_tokens").asInt(), c.get("min_new_tokens").asInt(),
                    stops, c.get("num_beams").asInt(), c.path("length_penalty").asDouble(1.0),
                    c.path("early_stopping").asBoolean(false));
            Generation g = generator.generate(prompt, options);
            int[] ours = g.stopToken().isPresent() ? append(g.tokens(), g.stopToken().getAsInt()) : g.tokens();
            int[] theirs = ints(c.get("new_tokens"));
            if (!java.util.Arrays.equals(ours, theirs)) {
                mismatches.add(c + "\n    project: " + java.util.Arrays.toString(ours));
            }
            if (c.has("sequence_score")) {
                beams++;
                worstScore = Math.max(worstScore, Math.abs(g.score() - c.get("sequence_score").asDouble()));
            }
            stopped += g.stopToken().isPresent() ? 1 : 0;
            lengths.add(ours.length);
        }
        System.out.printf("transformers generate: %d cases (%d beam searches, %d ended by eos, new-token lengths %s),"
                + " %d differ; beam scores max abs difference %.3e%n", cases.size(), beams, stopped, lengths,
                mismatches.size(), worstScore);
        assertThat(mismatches).as("cases where the project's tokens differ from transformers'").isEmpty();
        assertThat(worstScore).isLessThan(SCORE_TOL);
        assertThat(cases.size()).isGreaterThanOrEqualTo(50);
        assertThat(stopped).as("cases that end by eos").isGreaterThan(5);
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    private static int[] append(int[] a, int v) {
        int[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        return out;
    }
}
