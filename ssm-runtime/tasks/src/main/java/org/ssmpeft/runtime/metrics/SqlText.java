package org.ssmpeft.runtime.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small SQLite lexer: enough to tell a single SELECT from anything else and to normalise a query for string
 * comparison. It knows SQLite's quoting ({@code 'text'} with {@code ''}, {@code "name"} with {@code ""},
 * {@code `name`}, {@code [name]}) and comments ({@code -- line}, {@code /* block *}{@code /}).
 */
final class SqlText {

    /** A token: its text and whether it is a word (keyword or bare identifier), which normalisation lower-cases. */
    record Token(String text, boolean word) {
    }

    private SqlText() {
    }

    /**
     * The statement when {@code sql} is exactly one query starting with SELECT or WITH (leading comments allowed, one
     * optional trailing {@code ;} followed by nothing but white space and comments); null otherwise, also for
     * unterminated quotes or comments.
     */
    static String singleSelect(String sql) {
        List<Token> tokens = tokens(sql);
        if (tokens == null || tokens.isEmpty()) {
            return null;
        }
        String first = tokens.getFirst().text().toLowerCase(Locale.ROOT);
        if (!tokens.getFirst().word() || !(first.equals("select") || first.equals("with"))) {
            return null;
        }
        for (int i = 0; i < tokens.size(); i++) {
            if (tokens.get(i).text().equals(";") && i != tokens.size() - 1) {
                return null;
            }
        }
        // the original text without its trailing ';': SQLite compiles only the first statement of a string anyway
        int end = sql.length();
        if (tokens.getLast().text().equals(";")) {
            end = lastSemicolon(sql);
        }
        return sql.substring(0, end);
    }

    private static int lastSemicolon(String sql) {
        // the last ';' that the lexer saw as a token: scan again, remembering positions
        int[] position = {-1};
        scan(sql, (token, start) -> {
            if (token.text().equals(";")) {
                position[0] = start;
            }
        });
        return position[0];
    }

    /** The tokens of {@code sql}, comments and white space dropped; null on an unterminated quote or comment. */
    static List<Token> tokens(String sql) {
        List<Token> tokens = new ArrayList<>();
        return scan(sql, (token, start) -> tokens.add(token)) ? tokens : null;
    }

    private interface Sink {
        void accept(Token token, int start);
    }

    private static boolean scan(String s, Sink sink) {
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '-' && i + 1 < n && s.charAt(i + 1) == '-') {
                int eol = s.indexOf('\n', i);
                i = eol < 0 ? n : eol + 1;
            } else if (c == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
                int close = s.indexOf("*/", i + 2);
                if (close < 0) {
                    return false;
                }
                i = close + 2;
            } else if (c == '\'' || c == '"' || c == '`') {
                int j = i + 1;
                while (true) {
                    int close = s.indexOf(c, j);
                    if (close < 0) {
                        return false;
                    }
                    if (close + 1 < n && s.charAt(close + 1) == c) {
                        j = close + 2;
                    } else {
                        sink.accept(new Token(s.substring(i, close + 1), false), i);
                        i = close + 1;
                        break;
                    }
                }
            } else if (c == '[') {
                int close = s.indexOf(']', i);
                if (close < 0) {
                    return false;
                }
                sink.accept(new Token(s.substring(i, close + 1), false), i);
                i = close + 1;
            } else if (Character.isLetterOrDigit(c) || c == '_' || c == '$') {
                int j = i;
                while (j < n && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_' || s.charAt(j) == '$'
                        || (s.charAt(j) == '.' && j + 1 < n && Character.isDigit(s.charAt(j + 1))
                        && Character.isDigit(s.charAt(i))))) {
                    j++;
                }
                sink.accept(new Token(s.substring(i, j), true), i);
                i = j;
            } else {
                String two = i + 1 < n ? s.substring(i, i + 2) : "";
                if (two.equals(">=") || two.equals("<=") || two.equals("!=") || two.equals("<>")
                        || two.equals("==") || two.equals("||") || two.equals("<<") || two.equals(">>")) {
                    sink.accept(new Token(two, false), i);
                    i += 2;
                } else {
                    sink.accept(new Token(String.valueOf(c), false), i);
                    i++;
                }
            }
        }
        return true;
    }
}
