package org.ssmpeft.runtime.cpu;

import org.ssmpeft.runtime.backend.HostState;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * The CPU forward against transformers on the mamba-tiny fixture (B = 2, L = 24, V = 256, d = 64, D = 128, N = 16).
 * Tolerance 1e-4 absolute everywhere (the fixture README expects a float32 re-implementation within about 1e-5).
 */
class CpuMambaFixtureTest {

    private static final double TOL = 1e-4;

    private static MambaWeights weights;
    private static SafetensorsFile reference;
    private static int[][] tokens;

    @BeforeAll
    static void load() throws Exception {
        weights = MambaCheckpoint.load(Fixtures.mambaTiny());
        reference = SafetensorsFile.open(Fixtures.mambaTiny().resolve("reference.safetensors"));
        long[] ids = reference.readLongs("input_ids");
        long[] shape = reference.info("input_ids").shape();
        tokens = new int[(int) shape[0]][(int) shape[1]];
        for (int b = 0; b < tokens.length; b++) {
            for (int t = 0; t < tokens[b].length; t++) {
                tokens[b][t] = Math.toIntExact(ids[b * tokens[b].length + t]);
            }
        }
    }

    private static double report(String what, float[] actual, String refName) throws Exception {
        float[] expected = reference.readFloats(refName);
        double err = Fixtures.maxAbsDiff(actual, expected);
        System.out.printf("mamba-tiny %-22s max abs error %.3e%n", what, err);
        return err;
    }

    @Test
    void fullForwardMatchesLogitsHiddenStatesAndFinalStates() throws Exception {
        var model = new CpuMamba(weights);
        var out = model.forward(tokens, model.newState(tokens.length), true);

        assertThat(report("logits", out.logits(), "logits")).isLessThan(TOL);
        assertThat(out.hiddenStates()).hasSize(weights.config().layers() + 1);
        for (int j = 0; j < out.hiddenStates().size(); j++) {
            assertThat(report("hidden_states." + j, out.hiddenStates().get(j), "hidden_states." + j)).isLessThan(TOL);
        }
        for (int i = 0; i < weights.config().layers(); i++) {
            assertThat(report("ssm_state.layers." + i, out.cache().ssmState(i), "ssm_state.layers." + i))
                    .isLessThan(TOL);
            assertThat(report("conv_state.layers." + i, out.cache().convState(i), "conv_state.layers." + i))
                    .isLessThan(TOL);
        }
    }

    @Test
    void stepByStepDecodingMatchesStepLogitsAndTheFullForward() throws Exception {
        var model = new CpuMamba(weights);
        int batch = tokens.length;
        int len = tokens[0].length;
        int v = weights.config().vocabSize();
        var cache = model.newState(batch);
        float[] stepLogits = new float[batch * len * v];
        for (int t = 0; t < len; t++) {
            int[] column = new int[batch];
            for (int b = 0; b < batch; b++) {
                column[b] = tokens[b][t];
            }
            float[] logits = model.step(column, cache);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(logits, b * v, stepLogits, (b * len + t) * v, v);
            }
        }
        assertThat(cache.position()).isEqualTo(len);
        assertThat(report("step_logits", stepLogits, "step_logits")).isLessThan(TOL);

        var full = model.forward(tokens);
        // Same kernels, same summation order per element: decoding reproduces the full forward bit for bit.
        assertThat(stepLogits).isEqualTo(full.logits());
        for (int i = 0; i < weights.config().layers(); i++) {
            assertThat(cache.ssmState(i)).isEqualTo(full.cache().ssmState(i));
            assertThat(cache.convState(i)).isEqualTo(full.cache().convState(i));
        }
    }

    @Test
    void chunkedPrefillEqualsOnePrefill() {
        var model = new CpuMamba(weights);
        var whole = model.forward(tokens);
        var cache = model.newState(tokens.length);
        int split = 7; // fewer and more than K tokens per chunk
        int[][] first = Arrays.stream(tokens).map(r -> Arrays.copyOfRange(r, 0, split)).toArray(int[][]::new);
        int[][] second = Arrays.stream(tokens).map(r -> Arrays.copyOfRange(r, split, r.length)).toArray(int[][]::new);
        model.forward(first, cache, false);
        var rest = model.forward(second, cache, false);
        int v = weights.config().vocabSize();
        for (int b = 0; b < tokens.length; b++) {
            float[] expected = Arrays.copyOfRange(whole.logits(), (b * tokens[0].length + split) * v,
                    (b + 1) * tokens[0].length * v);
            float[] actual = Arrays.copyOfRange(rest.logits(), b * second[0].length * v, (b + 1) * second[0].length * v);
            assertThat(actual).isEqualTo(expected);
        }
        assertThat(cache.ssmState(1)).isEqualTo(whole.cache().ssmState(1));
        assertThat(cache.convState(1)).isEqualTo(whole.cache().convState(1));
    }

    @Test
    void singleThreadedPoolGivesTheSameLogits() {
        var pool = new java.util.concurrent.ForkJoinPool(1);
        try {
            float[] serial = new CpuMamba(weights, pool).forward(tokens).logits();
            float[] parallel = new CpuMamba(weights).forward(tokens).logits();
            assertThat(Fixtures.maxAbsDiff(serial, parallel)).isEqualTo(0.0);
        } finally {
            pool.shutdown();
        }
    }
}
