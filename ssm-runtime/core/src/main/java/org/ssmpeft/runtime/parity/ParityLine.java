package org.ssmpeft.runtime.parity;

import java.util.Locale;

/**
 * One checked quantity: its largest absolute error, that error relative to the largest reference magnitude, the
 * tolerance it is held to and the verdict. A quantity that could not be checked carries its reason instead.
 */
public record ParityLine(String quantity, double maxAbs, double maxRel, Tolerance tolerance, Verdict verdict,
                         String note) {

    public enum Verdict { PASS, FAIL, SKIP }

    /** Absolute tolerances hold values (logits, states, losses); relative ones hold gradients. */
    public record Tolerance(boolean relative, double limit) {
        public static final Tolerance VALUES = new Tolerance(false, 1e-5);
        public static final Tolerance GRADIENTS = new Tolerance(true, 1e-4);

        boolean accepts(double maxAbs, double maxRel) {
            double e = relative ? maxRel : maxAbs;
            return e <= limit; // false for NaN
        }

        @Override
        public String toString() {
            return (relative ? "rel " : "abs ") + String.format(Locale.ROOT, "%.0e", limit);
        }
    }

    /** Compares {@code actual} with {@code expected} element by element. */
    public static ParityLine compare(String quantity, float[] actual, float[] expected, Tolerance tolerance) {
        if (actual.length != expected.length) {
            return new ParityLine(quantity, Double.NaN, Double.NaN, tolerance, Verdict.FAIL,
                    "size " + actual.length + " but the reference has " + expected.length);
        }
        double maxAbs = 0;
        double maxRef = 0;
        for (int i = 0; i < actual.length; i++) {
            double e = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(e)) {
                maxAbs = Double.NaN; // a NaN anywhere fails the quantity
                break;
            }
            maxAbs = Math.max(maxAbs, e);
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        double maxRel = maxRef == 0 ? (maxAbs == 0 ? 0 : Double.POSITIVE_INFINITY) : maxAbs / maxRef;
        return new ParityLine(quantity, maxAbs, maxRel, tolerance,
                tolerance.accepts(maxAbs, maxRel) ? Verdict.PASS : Verdict.FAIL, "");
    }

    public static ParityLine skip(String quantity, String why) {
        return new ParityLine(quantity, Double.NaN, Double.NaN, Tolerance.VALUES, Verdict.SKIP, why);
    }

    public static ParityLine fail(String quantity, String why) {
        return new ParityLine(quantity, Double.NaN, Double.NaN, Tolerance.VALUES, Verdict.FAIL, why);
    }

    public boolean failed() {
        return verdict == Verdict.FAIL;
    }

    @Override
    public String toString() {
        if (!note.isEmpty() && Double.isNaN(maxAbs)) {
            return String.format(Locale.ROOT, "%-4s  %-48s %s", verdict, quantity, note);
        }
        return String.format(Locale.ROOT, "%-4s  %-48s max abs %.2e  max rel %.2e  (%s)%s", verdict, quantity,
                maxAbs, maxRel, tolerance, note.isEmpty() ? "" : "  " + note);
    }
}
