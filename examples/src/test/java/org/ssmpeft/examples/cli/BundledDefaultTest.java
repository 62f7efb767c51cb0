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
        System.out.printf("README command: %.0f s%n", seconds);
    }
}
