package org.ssmpeft.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.OptionalInt;

import org.junit.jupiter.api.Test;

class MambaInitTest {

    private static final MambaConfig CONFIG = MambaConfig.of(264, 32, 8, 2);

    @Test
    void followsMambaSsmInitialisation() {
        MambaWeights w = MambaInit.initialise(CONFIG, 1);
        LayerWeights l = w.layers().get(0);
        int n = CONFIG.dState();
        for (int c = 0; c < CONFIG.dInner(); c++) {
            for (int s = 0; s < n; s++) {
                assertThat(l.aLog()[c * n + s]).isEqualTo((float) Math.log(s + 1));
            }
            assertThat(l.d()[c]).isEqualTo(1f);
            double dt = Math.log1p(Math.exp(l.dtProjBias()[c]));     // softplus(bias) = dt
            assertThat(dt).isBetween(0.001 * 0.999, 0.1 * 1.001);
        }
        double bound = Math.pow(CONFIG.dtRank(), -0.5);
        for (float v : l.dtProj()) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo((float) bound);
        }
        for (float v : l.inProj()) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo((float) (1 / Math.sqrt(CONFIG.dModel())));
        }
        assertThat(l.norm()).containsOnly(1f);
        assertThat(w.lmHead()).isSameAs(w.embedding());
        double sq = 0;
        for (float v : w.embedding()) {
            sq += v * v;
        }
        assertThat(Math.sqrt(sq / w.embedding().length)).isBetween(0.018, 0.022);
    }

    @Test
    void deterministicGivenTheSeed() {
        MambaWeights a = MambaInit.initialise(CONFIG, 7);
        MambaWeights b = MambaInit.initialise(CONFIG, 7);
        MambaWeights c = MambaInit.initialise(CONFIG, 8);
        assertThat(a.layers().get(1).inProj()).isEqualTo(b.layers().get(1).inProj());
        assertThat(a.embedding()).isEqualTo(b.embedding());
        assertThat(a.layers().get(1).dtProjBias()).isNotEqualTo(c.layers().get(1).dtProjBias());
    }

    @Test
    void parameterCountIsWhatTheInitialiserAllocates() {
        MambaConfig untiedWithBiases = new MambaConfig(50, 12, 3, 3, 1e-5, OptionalInt.empty(), OptionalInt.empty(),
                OptionalInt.empty(), 2, 20, 3, true, true, "silu", 0.1, true, 2, 1.0, 0.001, 0.1, "random", 1e-4,
                false, true, false);
        for (MambaConfig c : new MambaConfig[] {CONFIG, untiedWithBiases}) {
            MambaWeights w = MambaInit.initialise(c, 3);
            long allocated = w.parameters().values().stream().mapToLong(t -> t.data().length).sum();
            assertThat(c.parameterCount()).isEqualTo(allocated);
        }
    }

    @Test
    void aModelLargerThanTheHeapIsRefusedBeforeAnythingIsAllocated() {
        MambaConfig huge = MambaConfig.of(264, 1 << 20, 16, 100_000);
        assertThat(huge.parameterCount()).isGreaterThan(1L << 50);
        assertThat(MambaConfig.of(264, 1 << 20, 16, Integer.MAX_VALUE).parameterCount()).as("saturates")
                .isEqualTo(Long.MAX_VALUE);
        assertThatThrownBy(() -> MambaInit.initialise(huge, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("100000 layers, d_model 1048576")
                .hasMessageContaining("more than this JVM's whole heap");
    }
}
