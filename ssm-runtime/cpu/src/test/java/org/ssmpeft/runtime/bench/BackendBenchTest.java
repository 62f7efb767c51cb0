package org.ssmpeft.runtime.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.checkpoint.MambaConfig;

/** The FLOP count behind BackendBench's GFLOP/s columns, worked out by hand for the Mamba-130M shape. */
class BackendBenchTest {

    private static final MambaConfig MAMBA_130M = MambaConfig.of(50280, 768, 16, 24);

    @Test
    void forwardCountsTheFourProjectionsOfEveryLayerAndTheHead() {
        // d 768, D 1536, N 16, R 48: in_proj 768x3072, x_proj 1536x80, dt_proj 48x1536, out_proj 1536x768
        double layer = 2.0 * (768 * 3072 + 1536 * 80 + 48 * 1536 + 1536 * 768);
        double head = 2.0 * 768 * 50280;
        assertThat(MAMBA_130M.dtRank()).isEqualTo(48);
        assertThat(BackendBench.flopsPerToken(MAMBA_130M, BackendBench.Extra.NONE))
                .isCloseTo(24 * layer + head, within(1e-3));
        assertThat(24 * layer + head).isCloseTo(256e6, within(1e6));
    }

    @Test
    void backwardDoublesTheForwardAndAddsTheAdaptersWeightGradients() {
        double forward = BackendBench.flopsPerToken(MAMBA_130M, BackendBench.Extra.NONE);
        double lora = 2.0 * 8 * ((768 + 3072) + (1536 + 80) + (48 + 1536) + (1536 + 768)); // per layer, r 8
        double offset = 2.0 * 16 * 1536; // Cm·h'ᵀ per layer
        assertThat(BackendBench.flopsPerToken(MAMBA_130M, BackendBench.Extra.LORA_R8))
                .isCloseTo(2 * forward + 3 * 24 * lora, within(1e-3));
        assertThat(BackendBench.flopsPerToken(MAMBA_130M, BackendBench.Extra.STATE_OFFSET_H))
                .isCloseTo(2 * forward + 3 * 24 * offset, within(1e-3));
    }

    @Test
    void aProfileRowGivesEachPartsMsPerCallAndShareAndTheRestAsOther() {
        var nanos = new java.util.EnumMap<org.ssmpeft.runtime.cpu.CpuProfile.Part, Long>(
                org.ssmpeft.runtime.cpu.CpuProfile.Part.class);
        nanos.put(org.ssmpeft.runtime.cpu.CpuProfile.Part.IN_PROJ, 600_000_000L); // over 2 calls of 0.5 s
        nanos.put(org.ssmpeft.runtime.cpu.CpuProfile.Part.SCAN, 200_000_000L);
        String row = BackendBench.profile("130m, B 1, forward", nanos, 1.0, 2);
        assertThat(row).startsWith("| 130m, B 1, forward | 500 | - | - | 300 (60.0%) | - | - | - | 100 (20.0%) |")
                .endsWith("| - | 100 (20.0%) |"); // OTHER: the 0.2 s no part claimed
        assertThat(row.split("\\|", -1)).hasSize(2 + 2 + org.ssmpeft.runtime.cpu.CpuProfile.Part.values().length);
    }
}
