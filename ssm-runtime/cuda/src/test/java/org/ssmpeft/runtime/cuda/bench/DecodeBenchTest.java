package org.ssmpeft.runtime.cuda.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaConfig;

/** The decode benchmark's option parsing, weight-read floor and greedy pick (the benchmark itself runs on a device). */
class DecodeBenchTest {

    @Test
    void optionsDefaultToTheIssuesSettings() {
        DecodeBench.Options o = DecodeBench.Options.parse(new String[0]);
        assertThat(o.shape()).isEqualTo("130m");
        assertThat(o.batches()).containsExactly(1, 16);
        assertThat(o.prompt()).isEqualTo(16);
        assertThat(o.newTokens()).isEqualTo(128);
        assertThat(o.method()).isEqualTo(DecodeBench.Method.NONE);
        assertThat(o.precisions()).containsExactly("fp32", "bf16");
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
        assertThat(o.precisions()).containsExactly("fp32");
        assertThat(o.warmup()).isZero();
        assertThat(o.reps()).isEqualTo(2);
    }

    @Test
    void badOptionsFailNamingTheValueAndWhatIsExpected() {
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--method", "state_ofset"}))
                .hasMessageContaining("'state_ofset'").hasMessageContaining("none, state-offset");
        assertThatThrownBy(() -> DecodeBench.Options.parse(new String[] {"--precision", "fp16"}))
                .hasMessageContaining("'fp16'").hasMessageContaining("fp32, bf16");
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
        MambaConfig c = TrainStepBench.shape("130m");
        DecodeBench.Floor f = DecodeBench.Floor.of(c, Float.BYTES, 4062);
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
    void onlyFp32IsOfferedUntilTheModelHasAPrecisionOption() {
        assertThat(DecodeBench.offered("fp32")).isTrue();
        assertThat(DecodeBench.offered("bf16")).isFalse();
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
