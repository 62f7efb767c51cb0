package org.ssmpeft.runtime.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * The scan's hook terms (initial state h0, state offset h', output offset y') against the fixture's adapter logits
 * (peft-grads.safetensors; forward only, no gradients: those come with the backward pass). Tolerance 1e-4 absolute.
 */
class ScanHookTermsFixtureTest {

    private static MambaWeights weights;
    private static SafetensorsFile peft;
    private static int[][] tokens;

    @BeforeAll
    static void load() throws Exception {
        weights = MambaCheckpoint.load(Fixtures.mambaTiny());
        peft = SafetensorsFile.open(Fixtures.mambaTiny().resolve("peft-grads.safetensors"));
        try (var ref = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"))) {
            int[] ids = ref.readInts("input_ids");
            tokens = new int[2][24];
            for (int b = 0; b < 2; b++) {
                System.arraycopy(ids, b * 24, tokens[b], 0, 24);
            }
        }
    }

    private static List<float[]> perLayer(String prefix, String suffix) throws Exception {
        var out = new ArrayList<float[]>();
        for (int i = 0; i < weights.config().layers(); i++) {
            out.add(peft.readFloats(prefix + ".layers." + i + "." + suffix));
        }
        return out;
    }

    private static double check(String method, float[] logits) throws Exception {
        double err = Fixtures.maxAbsDiff(logits, peft.readFloats(method + ".logits"));
        System.out.printf("mamba-tiny %-22s max abs error %.3e%n", method + ".logits", err);
        return err;
    }

    @Test
    void stateOffsetOnHMatches() throws Exception {
        var model = new CpuMamba(weights);
        var offsets = new CpuMamba.ScanOffsets(perLayer("state_offset_h", "h_off"), List.of());
        var out = model.forward(tokens, model.newCache(2), false, offsets);
        assertThat(check("state_offset_h", out.logits())).isLessThan(1e-4);
    }

    @Test
    void stateOffsetOnYMatches() throws Exception {
        var model = new CpuMamba(weights);
        var offsets = new CpuMamba.ScanOffsets(List.of(), perLayer("state_offset_y", "y_off"));
        var out = model.forward(tokens, model.newCache(2), false, offsets);
        assertThat(check("state_offset_y", out.logits())).isLessThan(1e-4);
    }

    @Test
    void initialStateThroughTheCacheMatches() throws Exception {
        var model = new CpuMamba(weights);
        var cache = model.newCache(2);
        List<float[]> h0 = perLayer("initial_state", "h0");
        for (int i = 0; i < h0.size(); i++) {
            for (int b = 0; b < 2; b++) {
                System.arraycopy(h0.get(i), 0, cache.ssmState(i), b * h0.get(i).length, h0.get(i).length);
            }
        }
        var out = model.forward(tokens, cache, false);
        assertThat(check("initial_state", out.logits())).isLessThan(1e-4);
    }
}
