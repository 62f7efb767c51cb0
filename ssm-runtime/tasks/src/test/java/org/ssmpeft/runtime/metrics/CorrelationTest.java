package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/**
 * STS-B's Pearson and Spearman against SciPy 1.17.1, computed once with
 * <pre>
 * from scipy.stats import pearsonr, spearmanr, rankdata
 * pred = [3.8, 2.0, 4.4, 0.6, 2.0, 5.0, 1.2, 3.8]
 * ref  = [4.2, 1.5, 3.75, 0.0, 2.6, 4.8, 1.5, 3.0]
 * pearsonr(pred, ref)[0]    # 0.9429211848430347
 * spearmanr(pred, ref)[0]   # 0.9394111922831736
 * rankdata(pred)            # [5.5, 3.5, 7.0, 1.0, 3.5, 8.0, 2.0, 5.5]
 * rankdata(ref)             # [7.0, 2.5, 6.0, 1.0, 4.0, 8.0, 2.5, 5.0]
 * c = [0, 1, 2, 3, 4]; d = [0, 0.1, 0.2, 0.4, 5]
 * pearsonr(c, d)[0]         # 0.7529690412521779
 * spearmanr(c, d)[0]        # 0.9999999999999999
 * </pre>
 */
class CorrelationTest {

    private static final double[] PRED = {3.8, 2.0, 4.4, 0.6, 2.0, 5.0, 1.2, 3.8};
    private static final double[] REF = {4.2, 1.5, 3.75, 0.0, 2.6, 4.8, 1.5, 3.0};

    @Test
    void pearsonAndSpearmanMatchScipyOnASampleWithTiesOnBothSides() {
        assertThat(Correlation.pearson(PRED, REF)).isCloseTo(0.9429211848430347, within(1e-12));
        assertThat(Correlation.spearman(PRED, REF)).isCloseTo(0.9394111922831736, within(1e-12));
        assertThat(Correlation.glueStsb(PRED, REF)).extracting(Score::name).containsExactly("pearson", "spearmanr");
    }

    @Test
    void tiedValuesShareTheAverageOfTheirRanks() {
        assertThat(Correlation.ranks(PRED)).containsExactly(5.5, 3.5, 7.0, 1.0, 3.5, 8.0, 2.0, 5.5);
        assertThat(Correlation.ranks(REF)).containsExactly(7.0, 2.5, 6.0, 1.0, 4.0, 8.0, 2.5, 5.0);
        assertThat(Correlation.ranks(new double[] {2, 2, 2})).containsExactly(2.0, 2.0, 2.0);
    }

    @Test
    void spearmanSeesOnlyTheOrderPearsonTheValues() {
        double[] c = {0, 1, 2, 3, 4};
        double[] d = {0, 0.1, 0.2, 0.4, 5};
        assertThat(Correlation.pearson(c, d)).isCloseTo(0.7529690412521779, within(1e-12));
        assertThat(Correlation.spearman(c, d)).isCloseTo(1.0, within(1e-12));
        assertThat(Correlation.pearson(c, new double[] {4, 3, 2, 1, 0})).isCloseTo(-1.0, within(1e-12));
    }

    @Test
    void undefinedCorrelationsAreZeroWhereScipyGivesNan() {
        assertThat(Correlation.pearson(new double[] {2, 2, 2}, new double[] {1, 2, 3})).isZero();
        assertThat(Correlation.spearman(new double[] {1, 2, 3}, new double[] {4, 4, 4})).isZero();
        assertThat(Correlation.pearson(new double[] {1}, new double[] {1})).isZero();
        assertThat(Correlation.pearson(new double[0], new double[0])).isZero();
    }

    @Test
    void arraysOfDifferentLengthAreRefused() {
        assertThatThrownBy(() -> Correlation.pearson(new double[2], new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 vs 3");
    }
}
