package org.ssmpeft.runtime.cuda.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.checkpoint.MambaConfig;

/** The training-step benchmark's FLOP count and option parsing (the benchmark itself runs on a device). */
class TrainStepBenchTest {

    @Test
    void mamba130mTrainsAt783765504ModelFlopsPerToken() {
        MambaConfig c = BenchSetup.shape("130m");
        TrainStepBench.Flops f = TrainStepBench.Flops.of(c);
        assertThat(c.parameterCount()).isEqualTo(129_135_360L);
        assertThat(f.matmulWeights()).isEqualTo(128_268_288L);
        assertThat(f.scan()).isEqualTo(24L * 24 * 1536 * 16);
        assertThat(f.model()).isEqualTo(783_765_504L);
    }

    @Test
    void aPeftStepNeedsNoWeightGradientOfFrozenWeights() {
        TrainStepBench.Flops f = TrainStepBench.Flops.of(BenchSetup.shape("130m"));
        long stateOffsetH = 24L * 1536 * 16;
        assertThat(f.needed(stateOffsetH)).isEqualTo(4 * 128_268_288L + 6 * stateOffsetH + f.scan());
        assertThat((double) f.needed(stateOffsetH) / f.model()).isBetween(0.6, 0.7);
    }

    @Test
    void optionsDefaultToTheIssuesSettings() {
        TrainStepBench.Options o = TrainStepBench.Options.parse(new String[0]);
        assertThat(o.shape()).isEqualTo("130m");
        assertThat(o.batch()).isEqualTo(4);
        assertThat(o.length()).isEqualTo(1024);
        assertThat(o.methods()).containsExactly(TrainStepBench.Method.STATE_OFFSET, TrainStepBench.Method.LORA,
                TrainStepBench.Method.LORA_OUT);
        assertThat(o.precisions()).containsExactly(Precision.FLOAT32);
    }

    @Test
    void unknownNamesFailListingWhatExists() {
        assertThatThrownBy(() -> TrainStepBench.Options.parse(new String[] {"--methods", "lora,state_ofset"}))
                .hasMessageContaining("'state_ofset'").hasMessageContaining("state-offset, lora, lora-out");
        assertThatThrownBy(() -> TrainStepBench.Options.parse(new String[] {"--precision", "fp16"}))
                .hasMessageContaining("'fp16'").hasMessageContaining("fp32, tf32, bf16");
        assertThatThrownBy(() -> TrainStepBench.Options.parse(new String[] {"--shape", "1.4b"}))
                .hasMessageContaining("'1.4b'").hasMessageContaining("130m or tiny");
        assertThatThrownBy(() -> TrainStepBench.Options.parse(new String[] {"--steps"}))
                .hasMessageContaining("--steps needs a value");
    }

    @Test
    void everyPrecisionParsesAndRunsWhereTheBackendOffersIt() {
        TrainStepBench.Options o = TrainStepBench.Options.parse(new String[] {"--precision", "fp32,tf32,bf16"});
        assertThat(o.precisions()).containsExactly(Precision.FLOAT32, Precision.TF32, Precision.BF16);
        var cpu = Backends.forName(Backends.CPU);
        var cuda = new org.ssmpeft.runtime.cuda.CudaBackendProvider();
        assertThat(BenchSetup.supports(cpu, Precision.FLOAT32)).isTrue();
        assertThat(BenchSetup.supports(cpu, Precision.BF16)).as("cpu: fp32 only").isFalse();
        assertThat(BenchSetup.supports(cuda, Precision.TF32)).isTrue();
        assertThat(BenchSetup.supports(cuda, Precision.BF16)).isTrue();
    }

    @Test
    void jsonStringsAreEscaped() {
        assertThat(BenchSetup.quote("a \"b\" \\ c\n")).isEqualTo("\"a \\\"b\\\" \\\\ c\\n\"");
    }
}
