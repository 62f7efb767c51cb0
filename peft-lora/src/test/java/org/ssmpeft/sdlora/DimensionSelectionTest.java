package org.ssmpeft.sdlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DimensionSelectionTest {

    /**
     * D 4, N 3. Channel energies Σ_n ΔA²: c0 0.01+0+0 = 0.01, c1 0.04+0.09+0.16 = 0.29, c2 0.25+0+0 = 0.25,
     * c3 0+0+0.0625 = 0.0625: the top two are c1 then c2 (c2 has the single largest element, but c1 the larger
     * sum, the rule of the reference's get_importances). States of c1 by ΔA²: n2 (-0.4), n1, n0; of c2: n0, then
     * the tie n1 = n2 = 0 goes to the lower index.
     */
    @Test
    void keepsTheChannelsOfLargestSquaredChangeAndInEachTheStatesOfLargestSquaredChange() {
        float[] delta = {
                0.1f, 0, 0,
                0.2f, 0.3f, -0.4f,
                -0.5f, 0, 0,
                0, 0, 0.25f};
        var l = DimensionSelection.select(delta, 4, 3, 2, 2);
        assertThat(l.channels()).containsExactly(1, 2);
        assertThat(l.states()).containsExactly(2, 1, 0, 1);
        var one = DimensionSelection.select(delta, 4, 3, 3, 1);
        assertThat(one.channels()).containsExactly(1, 2, 3);
        assertThat(one.states()).containsExactly(2, 0, 2);
    }

    @Test
    void aZeroChangeKeepsTheFirstChannelsAndStates() {
        var l = DimensionSelection.first(5, 4, 2, 3);
        assertThat(l.channels()).containsExactly(0, 1);
        assertThat(l.states()).containsExactly(0, 1, 2, 0, 1, 2);
    }

    @Test
    void moreDimensionsThanThereAreIsRefused() {
        assertThatThrownBy(() -> DimensionSelection.select(new float[12], 4, 3, 5, 1))
                .hasMessageContaining("cannot keep 5 of 4 channels");
    }
}
