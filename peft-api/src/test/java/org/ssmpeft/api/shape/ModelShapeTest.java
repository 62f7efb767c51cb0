package org.ssmpeft.api.shape;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ModelShapeTest {

    @Test
    void mamba130mMatchesThePublishedCheckpoint() {
        ModelShape s = ModelShape.preset("mamba-130m").orElseThrow();
        assertThat(s.dInner()).isEqualTo(1536);
        assertThat(s.dtRank()).isEqualTo(48);
        assertThat(s.xProjWidth()).isEqualTo(80);
        assertThat(s.baseParameterCount()).isEqualTo(129_135_360L);
    }

    @Test
    void mamba2130mHasTheConvertedLayout() {
        ModelShape s = ModelShape.preset("mamba2-130m").orElseThrow();
        assertThat(s.heads()).isEqualTo(24);
        assertThat(s.inProjWidth()).isEqualTo(3352);
        assertThat(s.convChannels()).isEqualTo(1792);
        assertThat(s.stateShape()).containsExactly(24, 64, 128);
    }

    @Test
    void inconsistentMamba2ShapesAreRefused() {
        assertThatThrownBy(() -> new ModelShape(ModelFamily.MAMBA2, 2, 64, 128, 16, 0, 4, 7, 16, 1, 256))
                .hasMessageContaining("heads·head_dim = d_inner; found 7·16 = 112 but d_inner = 128");
        assertThatThrownBy(() -> ModelShape.mamba(0, 64, 16, 256)).hasMessageContaining("layers must be > 0, found 0");
    }

    @Test
    void xProjIsMamba1Only() {
        assertThatThrownBy(() -> ModelShape.preset("mamba2-tiny").orElseThrow().xProjWidth())
                .hasMessageContaining("x_proj exists only in mamba models");
    }
}
