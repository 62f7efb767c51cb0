package org.ssmpeft.runtime.metrics;

import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * Exact match of normalised SQL strings, a simple companion to {@link SqlExecution}.
 *
 * <p>Normalisation: the query is lexed as SQLite does (quotes and comments respected), comments and a trailing
 * {@code ;} are dropped, keywords and bare identifiers are lower-cased, quoted strings and identifiers are kept as
 * written, and the tokens are joined by one space (so {@code count(*)}, {@code count ( * )} and {@code COUNT(*)} are
 * equal). The paper's Spider labels are already lower-cased and stripped (paper.md §9).
 *
 * <p>This is not Spider's exact-set match ({@link SpiderExactSetMatch}), which parses both queries, compares each
 * clause as a set (so {@code a AND b} equals {@code b AND a}), masks literal values and resolves table aliases; here
 * any such difference counts as a mismatch.
 */
public final class SqlExactMatch {

    private SqlExactMatch() {
    }

    /** The normalised form; an unlexable query (an unterminated quote or comment) is only trimmed. */
    public static String normalise(String sql) {
        List<SqlText.Token> tokens = SqlText.tokens(sql);
        if (tokens == null) {
            return sql.strip();
        }
        if (!tokens.isEmpty() && tokens.getLast().text().equals(";")) {
            tokens = tokens.subList(0, tokens.size() - 1);
        }
        StringJoiner joined = new StringJoiner(" ");
        for (SqlText.Token t : tokens) {
            joined.add(t.word() ? t.text().toLowerCase(Locale.ROOT) : t.text());
        }
        return joined.toString();
    }

    public static boolean matches(String predicted, String gold) {
        return normalise(predicted).equals(normalise(gold));
    }

    /** The fraction of predictions whose normalised string equals the gold's. */
    public static double score(List<String> predicted, List<String> gold) {
        Inputs.sameSize(predicted, gold, "predictions", "gold queries");
        int hits = 0;
        for (int i = 0; i < predicted.size(); i++) {
            if (matches(predicted.get(i), gold.get(i))) {
                hits++;
            }
        }
        return Inputs.fraction(hits, predicted.size());
    }

    /** {@code sql_exact_match} as a {@link Score}. */
    public static Score toScore(List<String> predicted, List<String> gold) {
        return Score.of("sql_exact_match", score(predicted, gold));
    }
}
