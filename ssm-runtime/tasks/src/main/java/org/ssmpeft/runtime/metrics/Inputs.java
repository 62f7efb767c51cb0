package org.ssmpeft.runtime.metrics;

import java.util.List;

/** Argument checks shared by the metrics. */
final class Inputs {

    private Inputs() {
    }

    static void sameSize(List<?> a, List<?> b, String aName, String bName) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException(aName + " and " + bName + " differ in size: " + a.size() + " vs "
                    + b.size() + "; pass one " + bName.replaceAll("s$", "") + " entry per example");
        }
    }

    static void sameLength(int[] a, int[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("predictions and references differ in length: " + a.length + " vs "
                    + b.length + "; pass one label per example in each");
        }
    }

    static void sameLength(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("predictions and references differ in length: " + a.length + " vs "
                    + b.length + "; pass one value per example in each");
        }
    }

    /** hits / n, 0 for an empty corpus. */
    static double fraction(long hits, long n) {
        return n == 0 ? 0.0 : (double) hits / n;
    }
}
