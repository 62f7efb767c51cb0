package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.examples.bundled.BundledModel;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

class BundledDefaultTest {

    @Test
    void theBundledModelIsInTheJarAndLoads() throws Exception {
        assertThat(BundledModel.available()).isTrue();
        MambaWeights w = MambaCheckpoint.load(BundledModel.directory());
        assertThat(w.config().vocabSize()).isEqualTo(264);
        long params = w.parameters().values().stream().mapToLong(t -> t.data().length).sum();
        assertThat(params).isBetween(100_000L, 2_000_000L);
    }

    /** The README's first command: compare every installed method on the bundled default. */
    @Test
    @Tag("slow")
    void readmeFirstCommandRunsEndToEnd() {
        long start = System.nanoTime();
        Cli r = Cli.run(ReadmeCommand.ARGS);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.println(r.out());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("| (base model) |").contains("| state-offset |").contains("| lora |")
                .contains("wall time");
        assertThat(r.out()).doesNotContain("failed:");
        // the paper's protocol: a learning rate per method chosen on validation, then two seeds on test
        assertThat(r.out()).contains("learning rates: centre x [1.0, 3.0] per method")
                .contains("| method | lr chosen | trainable params |")
                .contains("lr chosen on validation (bleu) from centre x [1.0, 3.0]")
                .contains("scores: mean ± sd over 2 seeds (1,2)");
        for (String method : new String[] {"state-offset", "lora", "full-ft", "prompt"}) {
            assertThat(r.out()).contains("  " + method + " ").containsPattern(
                    "(?m)^  " + method + " +lr .*: validation bleu ").containsPattern(
                    "(?m)^  " + method + " .*mean of 2 seeds");
            assertThat(r.out()).containsPattern("(?m)^\\| " + method + " \\| [0-9.e+-]+ \\| .* ± .*\\|$");
        }
        System.out.printf("README command: %.0f s%n", seconds);
        // the time is printed, not asserted: performance is measured (README), never a unit-test threshold
    }
}
