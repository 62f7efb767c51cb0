package org.ssmpeft.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@code --precision fp32|tf32|bf16}: the default is fp32 and the reports say so; an unknown name is a usage error
 * listing the valid ones; a backend that cannot compute in the precision asked refuses, naming itself and what it
 * offers.
 */
class PrecisionOptionTest {

    @Test
    void theDefaultIsFp32AndTheReportNamesIt() {
        Cli r = Cli.run("eval", "--task", "sentiment", "--limit", "1", "--backend", "cpu");
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("backend: cpu (precision fp32)").contains("; backend cpu, precision fp32");
    }

    @Test
    void anUnknownPrecisionIsAUsageErrorListingTheValidNames() {
        Cli r = Cli.run("eval", "--task", "sentiment", "--limit", "1", "--precision", "fp16");
        assertThat(r.exitCode()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--precision").contains("unknown precision 'fp16'; valid: fp32, tf32, bf16");
    }

    @Test
    void cpuRefusesBf16NamingItselfAndWhatItOffers() {
        Cli r = Cli.run("eval", "--task", "sentiment", "--limit", "1", "--backend", "cpu", "--precision", "bf16");
        assertThat(r.exitCode()).as(r.out() + r.err()).isNotZero();
        assertThat(r.err()).contains("backend 'cpu' cannot compute in bf16").contains("it offers: fp32");
    }
}
