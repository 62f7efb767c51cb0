package org.ssmpeft.runtime.cuda.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.checkpoint.MambaConfig;

/**
 * The decode benchmark's option parsing, weight-read floors and greedy pick, and the benchmark itself on the cpu
 * backend's tiny shape (its precision handling: cpu offers fp32 only).
 */
class DecodeBenchTest {

    @Test
    void optionsDefaultToTheIssuesSettings() {
        DecodeBench.Options o = DecodeBench.Options.parse(new String[0]);
        assertThat(o.shape()).isEqualTo("130m");
        assertThat(o.batches()).containsExactly(1, 16);
        assertThat(o.prompt()).isEqualTo(16);
        assertThat(o.newTokens()).isEqualTo(128);
        assertThat(o.method()).isEqualTo(DecodeBench.Method.NONE);
        assertThat(o.precisions()).containsExactly(Precision.FLOAT32, Precision.BF16);
    }

    @Test
    void optionsAreReadAsGiven() {
        DecodeBench.Options o = DecodeBench.Options.parse(new String[] {"--backend", "cpu", "--shape", "tiny",
            "--batch", "4, 1,4", "--prompt", "3", "--new", "7", "--method", "state-offset", "--precision", "fp32",
            "--warmup", "0", "--reps", "2"});
        assertThat(o.backend()).isEqualTo("cpu");
        assertThat(o.batches()).containsExactly(4, 1); // order kept, repeats dropped
        assertThat(o.prompt()).isEqualTo(3);
        assertThat(o.newTokens()).isEqualTo(7);
        assertThat(o.method()).isEqualTo(DecodeBench.Method.STATE_OFFSET);
        assertThat(o.precisions()).containsExactly(Precision.FLOAT32);
        assertThat(o.warmup()).isZero();
        assertThat(o.reps()).isEqualTo(2);
    }

    @Test
    void badOptionsFailNamingTheValueAndWhatIsExpected() {
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--method", "state_ofset"}))
                .hasMessageContaining("'state_ofset'").hasMessageContaining("none, state-offset");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--precision", "fp16"}))
                .hasMessageContaining("'fp16'").hasMessageContaining("fp32, tf32, bf16");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--shape", "1.4b"}))
                .hasMessageContaining("'1.4b'").hasMessageContaining("130m or tiny");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--batch", "1,x"}))
                .hasMessageContaining("--batch expects a whole number, found 'x'");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--batch", "0"}))
                .hasMessageContaining("--batch: every batch must be >= 1, found 0");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--new", "0"}))
                .hasMessageContaining("--new must be >= 1, found 0");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--steps", "3"}))
                .hasMessageContaining("unknown option '--steps'").hasMessageContaining("--reps");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--reps"}))
                .hasMessageContaining("--reps needs a value");
    }

    @Test
    void theFloorOfMamba130mIsItsFp32ParameterBytesOverTheCopyBandwidth() {
        MambaConfig c = BenchSetup.shape("130m");
        DecodeBench.Floor f = DecodeBench.Floor.of(c, Precision.FLOAT32, 4062);
        // 129,135,360 parameters, the tied head once (anchors.md's count)
        assertThat(f.parameterBytes()).isEqualTo(4L * 129_135_360);
        assertThat(f.micros()).isCloseTo(516_541_440 / 4062e9 * 1e6, within(1e-9));
        assertThat(f.micros()).isCloseTo(127.2, within(0.1));
    }

    @Test
    void aStepOfTwiceTheFloorIsRatioTwo() {
        DecodeBench.Floor f = new DecodeBench.Floor(2_000_000_000L, 1000); // 2 GB at 1 TB/s: 2 ms
        assertThat(f.micros()).isCloseTo(2000, within(1e-9));
        assertThat(f.ratio(4.0)).isCloseTo(2.0, within(1e-12));
    }

    @Test
    void tokensPerSecondCountEveryRowsNewTokens() {
        assertThat(DecodeBench.tokensPerSecond(16, 128, 256.0)).isCloseTo(8000, within(1e-9));
        assertThat(DecodeBench.tokensPerSecond(1, 1, 2.0)).isCloseTo(500, within(1e-9));
    }

    @Test
    void tf32ReadsTheFp32WeightsAndBf16TwoBytesPerMatrixParameter() {
        MambaConfig c = BenchSetup.shape("130m");
        assertThat(DecodeBench.Floor.parameterBytes(c, Precision.TF32)).isEqualTo(4L * 129_135_360);
        // P_mm = 128,268,288 (TrainStepBench's matmul weights) at 2 bytes, the other 867,072 parameters at 4
        assertThat(BenchSetup.matrixParameters(c)).isEqualTo(128_268_288L);
        DecodeBench.Floor f = DecodeBench.Floor.of(c, Precision.BF16, 4062);
        assertThat(f.parameterBytes()).isEqualTo(2L * 128_268_288 + 4L * 867_072).isEqualTo(260_004_864L);
        assertThat(f.micros()).isCloseTo(64.0, within(0.1));
    }

    @Test
    void aReducedPrecisionAllowsItsOwnRoundingBetweenRows() {
        assertThat(DecodeBench.rowTolerance(Precision.FLOAT32)).isEqualTo(1e-3);
        assertThat(DecodeBench.rowTolerance(Precision.TF32)).isEqualTo(4 * 0x1p-11);
        assertThat(DecodeBench.rowTolerance(Precision.BF16)).isEqualTo(4 * 0x1p-8);
    }

    @Test
    void repeatedPrecisionsRunOnce() {
        assertThat(DecodeBench.Options.parse(new String[] {"--precision", "bf16,fp32,bf16"}).precisions())
                .containsExactly(Precision.BF16, Precision.FLOAT32);
    }

    /** The tiny shape on the cpu backend: a few tokens, batches 1 and 2, one timed repetition. */
    private static String[] tinyCpu(String precisions, String method) {
        return new String[] {"--backend", "cpu", "--shape", "tiny", "--batch", "1,2", "--prompt", "3", "--new", "4",
            "--method", method, "--precision", precisions, "--warmup", "1", "--reps", "1"};
    }

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = DecodeBench.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void onCpuFp32DecodesAndTf32AndBf16AreSkippedWithCpusRefusal() throws Exception {
        Run r = run(tinyCpu("fp32,tf32,bf16", "none"));
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).contains("precision: requested fp32, tf32, bf16; runs fp32 (cpu offers fp32;");
        for (String p : new String[] {"tf32", "bf16"}) {
            // the backend's own refusal (BackendProvider.requirePrecision), one skipped BENCH line per batch
            assertThat(r.out()).contains("precision " + p + ": backend 'cpu' cannot compute in " + p);
            for (int b : new int[] {1, 2}) {
                assertThat(r.out()).containsPattern("BENCH \\{\"bench\":\"decode\",\"backend\":\"cpu\","
                        + "\"shape\":\"tiny\",\"method\":\"none\",\"precision\":\"" + p + "\",\"batch\":" + b
                        + ",\"skipped\":\"precision " + p + ": backend 'cpu' cannot compute in " + p
                        + "[^\"]*; skipped\"}");
            }
            assertThat(r.out()).doesNotContain("\"precision\":\"" + p + "\",\"batch\":1,\"prompt\"");
        }
        assertThat(r.out()).contains("\"precision\":\"fp32\",\"batch\":1,\"prompt\":3,\"new_tokens\":4")
                .contains("\"precision\":\"fp32\",\"batch\":2,\"prompt\":3,\"new_tokens\":4")
                .containsPattern("(?m)^decoder +1  fp32 ").containsPattern("(?m)^decoder +2  fp32 ")
                .containsPattern("(?m)^step +1  fp32 ").containsPattern("(?m)^step +2  fp32 ")
                .contains("\"bench\":\"decode\",\"loop\":\"decoder\",\"backend\":\"cpu\"")
                .contains("fp32 decoder rows agree: row 0 of batch 1, 2 against batch 1 (4 greedy tokens;")
                .contains("fp32 step rows agree: row 0 of batch 1, 2 against batch 1 (4 greedy tokens;")
                .contains("Generator.greedy agrees")
                .contains("fp32 decoder vs step loop: the same tokens in every batch and row")
                .contains("BENCH {\"bench\":\"decode-check\",\"loop\":\"step\",\"precision\":\"fp32\","
                        + "\"rows_agree\":true,\"generator_agrees\":true,")
                .doesNotContain("FAILED");
    }

    @Test
    void onCpuAStateOffsetDecodesToo() throws Exception {
        Run r = run(tinyCpu("fp32", "state-offset"));
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).contains("\"method\":\"state-offset\",\"precision\":\"fp32\",\"batch\":2,")
                .contains("fp32 decoder rows agree").contains("fp32 step rows agree").doesNotContain("FAILED");
    }

    @Test
    void onCpuTheMixedAdapterServingFigureRunsAtTheLargestBatch() throws Exception {
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(tinyCpu("fp32", "none")),
                java.util.stream.Stream.of("--mixed", "true", "--loop", "step")).toArray(String[]::new);
        Run r = run(args);
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).containsPattern("fp32 mixed-adapter serving \\(step loop\\), batch 2: 2 different state"
                        + " offsets [0-9.]+ ms a step \\([0-9.]+ tokens/s\\), one offset for every row [0-9.]+ ms")
                .contains("BENCH {\"bench\":\"decode-mixed\",\"loop\":\"step\",\"precision\":\"fp32\",\"batch\":2,")
                .contains("fp32 mixed-adapter rows vs alone (step loop): the first and last rows decode the tokens"
                        + " they decode alone")
                .doesNotContain("mixed-adapter serving (decoder loop)")
                .doesNotContain("decoder vs step loop").doesNotContain("FAILED");
    }

    @Test
    void onCpuTheMixedDecoderServesThroughBothLoops() throws Exception {
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(tinyCpu("fp32", "none")),
                java.util.stream.Stream.of("--mixed", "true")).toArray(String[]::new);
        Run r = run(args);
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).contains("fp32 mixed-adapter serving (decoder loop), batch 2")
                .contains("fp32 mixed-adapter serving (step loop), batch 2")
                .contains("fp32 mixed-adapter rows vs alone (decoder loop): the first and last rows decode")
                .containsPattern("fp32 state reorder \\(beam search's per-step move of the rows\\), batch 2: [0-9.]+ ms")
                .contains("BENCH {\"bench\":\"decode-reorder\",\"precision\":\"fp32\",\"batch\":2,")
                .doesNotContain("FAILED");
    }

    @Test
    void onCpuOnlyRefusedPrecisionsPrintNoTable() throws Exception {
        Run r = run(tinyCpu("bf16", "none"));
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("runs none (cpu offers fp32;")
                .contains("precision bf16: backend 'cpu' cannot compute in bf16").doesNotContain("prefill ms")
                .doesNotContain("rows agree");
    }

    @Test
    void badOptionsExit2AndAnUnknownBackend3() throws Exception {
        Run bad = run("--precision", "fp16");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).startsWith("DecodeBench: --precision: unknown precision 'fp16'");
        Run none = run("--backend", "no-such-backend", "--shape", "tiny");
        assertThat(none.code()).isEqualTo(3);
        assertThat(none.out())
                .contains("BENCH {\"bench\":\"decode\",\"backend\":\"no-such-backend\",\"skipped\":");
    }

    @Test
    void theGreedyTokenIsEachRowsFirstLargestLogit() {
        float[] logits = {0f, 3f, 3f, -1f, /* row 1 */ 5f, 1f, 2f, 5f};
        assertThat(DecodeBench.argmax(logits, 2, 4)).containsExactly(1, 0);
    }

    @Test
    void nonFiniteLogitsFailTheRow() {
        float[] logits = {0f, 1f, /* row 1 */ Float.NaN, Float.NaN};
        assertThatThrownBy(() -> DecodeBench.argmax(logits, 2, 2)).hasMessageContaining("row 1")
                .hasMessageContaining("NaN");
    }

    @Test
    void theFirstDifferenceIsFoundOrMinusOne() {
        assertThat(DecodeBench.firstDifference(new int[] {1, 2, 3}, new int[] {1, 2, 3})).isEqualTo(-1);
        assertThat(DecodeBench.firstDifference(new int[] {1, 2, 3}, new int[] {1, 5, 3})).isEqualTo(1);
        assertThat(DecodeBench.firstDifference(new int[] {1, 2}, new int[] {1, 2, 3})).isEqualTo(2);
        assertThat(DecodeBench.maxRelativeDifference(new float[] {10f, 0.5f}, new float[] {10.01f, 0.5f}))
                .isCloseTo(0.01 / 10.01, within(1e-6));
    }
}
