package org.ssmpeft.runtime.metrics;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Exact match: {@code EM = (1/n) Σ_i [norm(prediction_i) == norm(reference_i)]}, a fraction in [0, 1]; with several
 * references an example counts when any of them matches.
 *
 * <p>Default normalisation: none ({@link #exact()}), strict string equality, as HF {@code evaluate}'s
 * {@code exact_match} with its defaults. {@link #lenient()} applies every {@link Normalisation}: trim, collapse runs of
 * whitespace to one space, lower-case ({@link Locale#ROOT}). The normalisations are applied in that order whatever
 * order the set lists them.
 */
public final class ExactMatch {

    /** What is done to both strings before they are compared. */
    public enum Normalisation {
        /** strip leading and trailing whitespace ({@link String#strip()}: Unicode white space) */
        TRIM,
        /** replace every run of white space by one space */
        COLLAPSE_WHITESPACE,
        /** lower-case with {@link Locale#ROOT} */
        LOWER_CASE
    }

    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private final Set<Normalisation> normalisations;

    private ExactMatch(Set<Normalisation> normalisations) {
        this.normalisations = normalisations.isEmpty()
                ? EnumSet.noneOf(Normalisation.class) : EnumSet.copyOf(normalisations);
    }

    /** Strict equality, no normalisation: the default. */
    public static ExactMatch exact() {
        return new ExactMatch(EnumSet.noneOf(Normalisation.class));
    }

    /** Trim, collapse white space, lower-case. */
    public static ExactMatch lenient() {
        return new ExactMatch(EnumSet.allOf(Normalisation.class));
    }

    public static ExactMatch with(Set<Normalisation> normalisations) {
        return new ExactMatch(normalisations);
    }

    public Set<Normalisation> normalisations() {
        return normalisations.isEmpty() ? Set.of() : EnumSet.copyOf(normalisations);
    }

    /** The string as it is compared. */
    public String normalise(String text) {
        String s = text;
        if (normalisations.contains(Normalisation.TRIM)) {
            s = s.strip();
        }
        if (normalisations.contains(Normalisation.COLLAPSE_WHITESPACE)) {
            s = WHITESPACE.matcher(s).replaceAll(" ");
        }
        if (normalisations.contains(Normalisation.LOWER_CASE)) {
            s = s.toLowerCase(Locale.ROOT);
        }
        return s;
    }

    public boolean matches(String prediction, String reference) {
        return normalise(prediction).equals(normalise(reference));
    }

    /** EM over a corpus, one reference per example. */
    public double score(List<String> predictions, List<String> references) {
        Inputs.sameSize(predictions, references, "predictions", "references");
        int hits = 0;
        for (int i = 0; i < predictions.size(); i++) {
            if (matches(predictions.get(i), references.get(i))) {
                hits++;
            }
        }
        return Inputs.fraction(hits, predictions.size());
    }

    /** EM over a corpus, several references per example: a hit when any reference matches. */
    public double scoreMultiReference(List<String> predictions, List<? extends List<String>> references) {
        Inputs.sameSize(predictions, references, "predictions", "references");
        int hits = 0;
        for (int i = 0; i < predictions.size(); i++) {
            String p = normalise(predictions.get(i));
            for (String r : references.get(i)) {
                if (p.equals(normalise(r))) {
                    hits++;
                    break;
                }
            }
        }
        return Inputs.fraction(hits, predictions.size());
    }

    /** {@code exact_match} as a {@link Score}. */
    public Score toScore(List<String> predictions, List<String> references) {
        return Score.of("exact_match", score(predictions, references));
    }

    @Override
    public String toString() {
        return "ExactMatch" + normalisations;
    }
}
