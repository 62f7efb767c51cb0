package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** The progress line: in place with carriage returns on a terminal, plain lines elsewhere. */
class ProgressLineTest {

    private static StepRecord step(int n) {
        return new StepRecord(n, 0, 2.5 - n * 0.1, 1e-3, 1.0, 1000, 900, 0.5);
    }

    @Test
    void plainOutputPrintsALineEveryNStepsAndAtTheEnd() {
        var bytes = new ByteArrayOutputStream();
        var p = new ProgressLine(new PrintStream(bytes, true, StandardCharsets.UTF_8), false, 2);
        p.onStart(0, 5);
        for (int i = 1; i <= 5; i++) {
            p.onStep(step(i));
        }
        p.onEvaluation(new EvalRecord(5, Map.of("accuracy", 0.75)));
        p.onEnd(new TrainingResult(5, TrainingResult.StopReason.MAX_STEPS, 2.0, OptionalDouble.empty(), 0,
                Path.of("run/checkpoint-5"), Optional.empty()));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).doesNotContain("\r");
        assertThat(out.lines().toList()).containsExactly(
                "step 2/5 loss 2.3000 lr 1.0e-03 2,000 tok/s ETA 2s",
                "step 4/5 loss 2.1000 lr 1.0e-03 2,000 tok/s ETA 1s",
                "step 5/5 loss 2.0000 lr 1.0e-03 2,000 tok/s ETA 0s",
                "eval at step 5: accuracy 0.7500",
                "stopped after step 5 (max steps); checkpoint " + Path.of("run/checkpoint-5"));
    }

    @Test
    void aTerminalLineIsRewrittenInPlaceWithABar() {
        var bytes = new ByteArrayOutputStream();
        var p = new ProgressLine(new PrintStream(bytes, true, StandardCharsets.UTF_8), true, 10);
        p.onStart(0, 4);
        p.onStep(step(1));
        p.onStep(step(2));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).startsWith("\rstep 1/4 [#####...............] loss 2.4000").contains("\rstep 2/4 [##########")
                .doesNotContain("\n");
        assertThat(out).contains("ETA 1s");
    }

    @Test
    void durationsReadLikeClocks() {
        assertThat(ProgressLine.duration(59.4)).isEqualTo("59s");
        assertThat(ProgressLine.duration(125)).isEqualTo("2m05s");
        assertThat(ProgressLine.duration(3 * 3600 + 7 * 60)).isEqualTo("3h07m");
    }
}
