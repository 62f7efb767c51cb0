package org.ssmpeft.runtime.metrics;

import java.util.List;
import java.util.TreeSet;

/**
 * Classification metrics of GLUE as HF {@code evaluate.load("glue", task)} computes them through scikit-learn:
 * accuracy, F1 (binary: {@code f1_score(pos_label=1)}; macro) and Matthews correlation ({@code matthews_corrcoef},
 * binary and multi-class). Labels are class indices; the paper maps the generated token "0"/"1"/"2" to them and drops
 * predictions that are no class token before scoring (paper.md §10), which is the caller's job.
 *
 * <p>Undefined values are 0, as scikit-learn's {@code zero_division} default settles them: F1 with no positive in
 * either array, MCC when a row or a column of the confusion matrix sums to the whole sample (one class only).
 * An empty sample scores 0 on every metric.
 */
public final class Classification {

    private Classification() {
    }

    /** {@code accuracy = (1/n) Σ_i [ŷ_i == y_i]}. */
    public static double accuracy(int[] predictions, int[] references) {
        Inputs.sameLength(predictions, references);
        int hits = 0;
        for (int i = 0; i < predictions.length; i++) {
            if (predictions[i] == references[i]) {
                hits++;
            }
        }
        return Inputs.fraction(hits, predictions.length);
    }

    /** Binary F1 of class 1, as {@code f1_score} with its default {@code pos_label=1} (GLUE MRPC, QQP). */
    public static double f1(int[] predictions, int[] references) {
        return f1(predictions, references, 1);
    }

    /**
     * Binary F1 of {@code positiveClass}: {@code F1 = 2·TP / (2·TP + FP + FN)}, the harmonic mean of precision
     * {@code TP/(TP+FP)} and recall {@code TP/(TP+FN)}; 0 when {@code 2·TP + FP + FN = 0}.
     */
    public static double f1(int[] predictions, int[] references, int positiveClass) {
        Inputs.sameLength(predictions, references);
        long tp = 0;
        long fp = 0;
        long fn = 0;
        for (int i = 0; i < predictions.length; i++) {
            boolean p = predictions[i] == positiveClass;
            boolean r = references[i] == positiveClass;
            if (p && r) {
                tp++;
            } else if (p) {
                fp++;
            } else if (r) {
                fn++;
            }
        }
        long denominator = 2 * tp + fp + fn;
        return denominator == 0 ? 0.0 : (double) (2 * tp) / denominator;
    }

    /**
     * Macro F1: the unweighted mean of the per-class binary F1 over every label that occurs in either array
     * ({@code f1_score(average="macro")}); a class that is only predicted, never referenced, counts with F1 = 0.
     */
    public static double macroF1(int[] predictions, int[] references) {
        Inputs.sameLength(predictions, references);
        TreeSet<Integer> labels = new TreeSet<>();
        for (int i = 0; i < predictions.length; i++) {
            labels.add(predictions[i]);
            labels.add(references[i]);
        }
        if (labels.isEmpty()) {
            return 0.0;
        }
        double sum = 0;
        for (int label : labels) {
            sum += f1(predictions, references, label);
        }
        return sum / labels.size();
    }

    /**
     * Matthews correlation of a binary confusion matrix:
     * {@code MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))}, 0 when the denominator is 0.
     */
    public static double matthewsCorrelation(long tp, long tn, long fp, long fn) {
        double numerator = (double) tp * tn - (double) fp * fn;
        double denominator = (double) (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
        return denominator == 0 ? 0.0 : numerator / Math.sqrt(denominator);
    }

    /**
     * Matthews correlation for any number of classes (Gorodkin's R_K, as scikit-learn's {@code matthews_corrcoef}),
     * from the K×K confusion matrix C with {@code t_k = Σ_j C_kj} (times class k occurs), {@code p_k = Σ_i C_ik}
     * (times it is predicted), {@code c = Σ_k C_kk} (correct) and n samples:
     * {@code MCC = (c·n − Σ_k p_k·t_k) / sqrt((n² − Σ_k p_k²)(n² − Σ_k t_k²))};
     * 0 when the denominator is 0.
     * For two classes it equals {@link #matthewsCorrelation(long, long, long, long)}.
     */
    public static double matthewsCorrelation(int[] predictions, int[] references) {
        Inputs.sameLength(predictions, references);
        TreeSet<Integer> labelSet = new TreeSet<>();
        for (int i = 0; i < predictions.length; i++) {
            labelSet.add(predictions[i]);
            labelSet.add(references[i]);
        }
        List<Integer> labels = List.copyOf(labelSet);
        double[] t = new double[labels.size()];
        double[] p = new double[labels.size()];
        double correct = 0;
        for (int i = 0; i < predictions.length; i++) {
            t[labels.indexOf(references[i])]++;
            p[labels.indexOf(predictions[i])]++;
            if (predictions[i] == references[i]) {
                correct++;
            }
        }
        double n = predictions.length;
        double pt = 0;
        double pp = 0;
        double tt = 0;
        for (int k = 0; k < labels.size(); k++) {
            pt += p[k] * t[k];
            pp += p[k] * p[k];
            tt += t[k] * t[k];
        }
        double covTp = correct * n - pt;
        double covPp = n * n - pp;
        double covTt = n * n - tt;
        double denominator = covPp * covTt;
        return denominator == 0 ? 0.0 : covTp / Math.sqrt(denominator);
    }

    /** The GLUE scores of a binary task with an F1 (MRPC, QQP): {@code accuracy} and {@code f1}. */
    public static List<Score> accuracyAndF1(int[] predictions, int[] references) {
        return List.of(Score.of("accuracy", accuracy(predictions, references)),
                Score.of("f1", f1(predictions, references)));
    }

    /** The GLUE score of CoLA: {@code matthews_correlation}. */
    public static Score matthewsScore(int[] predictions, int[] references) {
        return Score.of("matthews_correlation", matthewsCorrelation(predictions, references));
    }
}
