package org.ssmpeft.runtime.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ClassificationTest {

    private static final double EPS = 1e-12;

    // Confusion matrix (positive class 1): TP = 3, FN = 1, FP = 2, TN = 4, n = 10
    private static final int[] REFERENCES = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    private static final int[] PREDICTIONS = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};

    @Test
    void accuracyIsTheFractionOfEqualLabels() {
        // (TP + TN) / n = (3 + 4) / 10
        assertThat(Classification.accuracy(PREDICTIONS, REFERENCES)).isCloseTo(0.7, within(EPS));
    }

    @Test
    void binaryF1OfClassOne() {
        // 2TP / (2TP + FP + FN) = 6 / (6 + 2 + 1) = 2/3; precision 3/5, recall 3/4, harmonic mean 2/3 too
        assertThat(Classification.f1(PREDICTIONS, REFERENCES)).isCloseTo(2.0 / 3, within(EPS));
    }

    @Test
    void binaryF1OfAConfigurablePositiveClass() {
        // class 0: TP = 4, FP = 1 (ref 1, pred 0), FN = 2 (ref 0, pred 1): 8 / (8 + 1 + 2) = 8/11
        assertThat(Classification.f1(PREDICTIONS, REFERENCES, 0)).isCloseTo(8.0 / 11, within(EPS));
    }

    @Test
    void macroF1IsTheMeanOverClasses() {
        // (2/3 + 8/11) / 2 = 23/33
        assertThat(Classification.macroF1(PREDICTIONS, REFERENCES)).isCloseTo(23.0 / 33, within(EPS));
    }

    @Test
    void macroF1CountsAClassThatIsOnlyPredicted() {
        // labels {0, 1, 2}: class 0 F1 = 1 (TP 1), class 1 F1 = 2·1/(2+0+1) = 2/3, class 2 F1 = 0 (FP 1)
        int[] refs = {0, 1, 1};
        int[] preds = {0, 1, 2};
        assertThat(Classification.macroF1(preds, refs)).isCloseTo((1 + 2.0 / 3 + 0) / 3, within(EPS));
    }

    @Test
    void f1WithNoPositiveAnywhereIsZero() {
        assertThat(Classification.f1(new int[] {0, 0}, new int[] {0, 0})).isZero();
    }

    @Test
    void matthewsFromTheTwoByTwoMatrix() {
        // (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (12 − 2) / sqrt(5·4·6·5) = 10 / sqrt(600)
        double expected = 10 / Math.sqrt(600);
        assertThat(expected).isCloseTo(0.408248290463863, within(1e-15));
        assertThat(Classification.matthewsCorrelation(3, 4, 2, 1)).isCloseTo(expected, within(EPS));
        assertThat(Classification.matthewsCorrelation(PREDICTIONS, REFERENCES)).isCloseTo(expected, within(EPS));
    }

    @Test
    void matthewsOfScikitLearnsDocumentedExample() {
        // sklearn.metrics.matthews_corrcoef docs: y_true [+1, +1, +1, -1], y_pred [+1, -1, +1, +1] gives -0.33...
        // TP 2, FN 1, FP 1, TN 0: (0 − 1) / sqrt(3·3·1·1) = −1/3
        assertThat(Classification.matthewsCorrelation(new int[] {1, -1, 1, 1}, new int[] {1, 1, 1, -1}))
                .isCloseTo(-1.0 / 3, within(EPS));
    }

    @Test
    void matthewsMultiClass() {
        // y = [0,0,1,1,2,2], ŷ = [0,1,1,2,2,0]: correct c = 3, t = p = (2,2,2), n = 6
        // (c·n − Σ p·t) / sqrt((n² − Σp²)(n² − Σt²)) = (18 − 12) / sqrt(24·24) = 0.25
        assertThat(Classification.matthewsCorrelation(new int[] {0, 1, 1, 2, 2, 0}, new int[] {0, 0, 1, 1, 2, 2}))
                .isCloseTo(0.25, within(EPS));
    }

    @Test
    void matthewsIsZeroWhenUndefined() {
        // one predicted class only: n² − Σp² = 0
        assertThat(Classification.matthewsCorrelation(new int[] {1, 1, 1}, new int[] {0, 1, 0})).isZero();
        assertThat(Classification.matthewsCorrelation(0, 5, 0, 0)).isZero();
    }

    @Test
    void perfectAndInversePredictions() {
        int[] y = {0, 1, 0, 1};
        assertThat(Classification.matthewsCorrelation(y, y)).isCloseTo(1.0, within(EPS));
        assertThat(Classification.matthewsCorrelation(new int[] {1, 0, 1, 0}, y)).isCloseTo(-1.0, within(EPS));
    }

    @Test
    void emptySampleScoresZero() {
        int[] none = {};
        assertThat(Classification.accuracy(none, none)).isZero();
        assertThat(Classification.f1(none, none)).isZero();
        assertThat(Classification.macroF1(none, none)).isZero();
        assertThat(Classification.matthewsCorrelation(none, none)).isZero();
    }

    @Test
    void differentLengthsAreRejected() {
        assertThatThrownBy(() -> Classification.accuracy(new int[] {1}, new int[] {1, 0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 vs 2");
    }

    @Test
    void glueScoresCarryEvaluatesKeys() {
        assertThat(Classification.accuracyAndF1(PREDICTIONS, REFERENCES)).extracting(Score::name)
                .containsExactly("accuracy", "f1");
        assertThat(Classification.matthewsScore(PREDICTIONS, REFERENCES).name()).isEqualTo("matthews_correlation");
    }
}
