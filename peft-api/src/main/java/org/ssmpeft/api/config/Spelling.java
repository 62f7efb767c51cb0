package org.ssmpeft.api.config;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/** "Did you mean" for misspelled names: the closest known name within a small edit distance. */
public final class Spelling {

    private Spelling() {
    }

    /** The known name closest to {@code wrong} (Levenshtein, case-insensitive, within max(2, a third of its length)). */
    public static Optional<String> closest(String wrong, Collection<String> known) {
        String w = wrong.toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(w, k.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        // close, and not a rewrite of the whole word (so "z" does not suggest "h")
        return best != null && bestDistance <= Math.max(2, w.length() / 3) && bestDistance < w.length()
                ? Optional.of(best) : Optional.empty();
    }

    /** {@code "; did you mean 'x'?"} or "". */
    public static String hint(String wrong, Collection<String> known) {
        return closest(wrong, known).map(k -> "; did you mean '" + k + "'?").orElse("");
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
