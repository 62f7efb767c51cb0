package org.ssmpeft.api.testing;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded mutations of config text (JSON or YAML) for property-based fuzzing of readers: byte flips, truncations,
 * huge and odd numbers, deep nesting, very long strings, duplicated keys and lines, values of the wrong type, YAML
 * anchors/aliases (a "billion laughs" bomb), tags and documents. Each mutant applies 1 to 4 of them to a valid seed,
 * so most mutants are still close to valid and reach the checks behind the parser.
 */
public final class ConfigMutator {

    private static final String[] NUMBERS = {"1e999999", "-1e309", "1e-400", "99999999999999999999999999999",
        "18446744073709551616", "2147483648", "-2147483649", "4294967296", "-0", "0", "-1", "NaN", "Infinity",
        "-Infinity", "0x10", "1_000", "007", "1.", ".5", "1e", "9".repeat(70), "1" + "0".repeat(400),
        "0." + "0".repeat(2000) + "1", "2.5", "3.0", "1e2"};
    private static final String[] VALUES = {"[]", "{}", "\"\"", "\"str\"", "true", "false", "null", "1.5", "-1", "0",
        "[1, 2]", "{\"a\": 1}", "\"all\"", "\"0-3\"", "\"3-1\"", "\"-1\"", "\"auto\"", "[\"0-99999\"]", "65536",
        "[0, \"x\"]", "\"\\u0000\"", "\"\\ud800\""};
    private static final String CHARS = "{}[]:,\"'&*!-?|>#%@`\\\n\t \r\u0000\u00ff\ufffd\ud800\uffff0123456789aeE.+";
    private static final List<String> BOMBS = List.of(
            // billion laughs: 9 levels of 9 aliases each
            billionLaughs(),
            "a: &a [x]\nb: *a\nc: *b\n",
            "a: &a\n  b: *a\n",
            "? [a, b]\n: c\n",
            "!!java.net.URL [\"http://localhost/\"]\n",
            "!!binary AAAA\n",
            "--- a\n--- b\n",
            "%YAML 1.1\n---\nx: 1\n",
            "x: !!float 1e999\n",
            "x: <<: {a: 1}\n",
            "<<: *missing\n");

    private ConfigMutator() {
    }

    private static String billionLaughs() {
        var sb = new StringBuilder("l0: &l0 [" + String.join(", ", java.util.Collections.nCopies(9, "\"lol\""))
                + "]\n");
        for (int level = 1; level < 10; level++) {
            sb.append('l').append(level).append(": &l").append(level).append(" [");
            for (int i = 0; i < 9; i++) {
                sb.append(i == 0 ? "" : ", ").append("*l").append(level - 1);
            }
            sb.append("]\n");
        }
        return sb.toString();
    }

    /** A mutant of {@code seed}: 1 to 4 mutations chosen by {@code rnd}. */
    public static String mutate(String seed, SplittableRandom rnd) {
        String s = seed;
        int n = 1 + rnd.nextInt(4);
        for (int i = 0; i < n; i++) {
            s = once(s, rnd);
        }
        return s;
    }

    /** The UTF-8 bytes of {@link #mutate}, sometimes with raw byte damage (invalid UTF-8, a BOM, NULs). */
    public static byte[] mutateBytes(String seed, SplittableRandom rnd) {
        byte[] b = mutate(seed, rnd).getBytes(StandardCharsets.UTF_8);
        if (b.length > 0 && rnd.nextInt(8) == 0) {
            int flips = 1 + rnd.nextInt(4);
            for (int i = 0; i < flips; i++) {
                b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
        }
        if (rnd.nextInt(40) == 0) {
            byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
            byte[] out = new byte[b.length + 3];
            System.arraycopy(bom, 0, out, 0, 3);
            System.arraycopy(b, 0, out, 3, b.length);
            b = out;
        }
        return b;
    }

    private static String once(String s, SplittableRandom rnd) {
        int at = s.isEmpty() ? 0 : rnd.nextInt(s.length() + 1);
        return switch (rnd.nextInt(14)) {
            case 0 -> s.isEmpty() ? s
                    : replaceAt(s, rnd.nextInt(s.length()), CHARS.charAt(rnd.nextInt(CHARS.length())));
            case 1 -> s.substring(0, at);
            case 2 -> s.substring(0, at) + NUMBERS[rnd.nextInt(NUMBERS.length)] + s.substring(at);
            case 3 -> replaceNumber(s, rnd);
            case 4 -> replaceValue(s, rnd);
            case 5 -> {
                int depth = rnd.nextInt(2) == 0 ? 1 + rnd.nextInt(100) : 500 + rnd.nextInt(20_000);
                String open = rnd.nextBoolean() ? "[" : "{\"k\": ";
                String close = open.equals("[") ? "]" : "}";
                yield s.substring(0, at) + open.repeat(depth) + "1" + (rnd.nextBoolean() ? close.repeat(depth) : "")
                        + s.substring(at);
            }
            case 6 -> s.substring(0, at) + "\"" + "x".repeat(new int[] {1000, 200_000, 1 << 21}[rnd.nextInt(3)]) + "\""
                    + s.substring(at);
            case 7 -> duplicateLine(s, rnd);
            case 8 -> deleteLine(s, rnd);
            case 9 -> s.substring(0, at) + BOMBS.get(rnd.nextInt(BOMBS.size())) + s.substring(at);
            case 10 -> BOMBS.get(rnd.nextInt(BOMBS.size()));
            case 11 -> duplicateKey(s, rnd);
            case 12 -> swapLines(s, rnd);
            default -> s.substring(0, at) + CHARS.charAt(rnd.nextInt(CHARS.length())) + s.substring(at);
        };
    }

    private static String replaceAt(String s, int i, char c) {
        return s.substring(0, i) + c + s.substring(i + 1);
    }

    private static int[] span(String s, SplittableRandom rnd, java.util.regex.Pattern p) {
        var m = p.matcher(s);
        int count = 0;
        while (m.find()) {
            count++;
        }
        if (count == 0) {
            return null;
        }
        int pick = rnd.nextInt(count);
        m.reset();
        for (int i = 0; i <= pick; i++) {
            m.find();
        }
        return new int[] {m.start(), m.end()};
    }

    private static final java.util.regex.Pattern NUMBER =
            java.util.regex.Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?");
    private static final java.util.regex.Pattern VALUE =
            java.util.regex.Pattern.compile("(?<=: )(\"[^\"\\n]*\"|[^,}\\]\\n]+)");
    private static final java.util.regex.Pattern KEY_LINE =
            java.util.regex.Pattern.compile("(?m)^\\s*\"?[a-z_]+\"?\\s*:.*$");

    private static String replaceNumber(String s, SplittableRandom rnd) {
        int[] sp = span(s, rnd, NUMBER);
        return sp == null ? s : s.substring(0, sp[0]) + NUMBERS[rnd.nextInt(NUMBERS.length)] + s.substring(sp[1]);
    }

    private static String replaceValue(String s, SplittableRandom rnd) {
        int[] sp = span(s, rnd, VALUE);
        return sp == null ? s : s.substring(0, sp[0]) + VALUES[rnd.nextInt(VALUES.length)] + s.substring(sp[1]);
    }

    private static String duplicateKey(String s, SplittableRandom rnd) {
        int[] sp = span(s, rnd, KEY_LINE);
        if (sp == null) {
            return s;
        }
        String line = s.substring(sp[0], sp[1]);
        String copy = line.endsWith(",") || !line.trim().startsWith("\"") ? line : line + ",";
        return s.substring(0, sp[0]) + copy + "\n" + line + s.substring(sp[1]);
    }

    private static String duplicateLine(String s, SplittableRandom rnd) {
        String[] lines = s.split("\n", -1);
        int i = rnd.nextInt(lines.length);
        var sb = new StringBuilder();
        for (int j = 0; j < lines.length; j++) {
            sb.append(lines[j]).append('\n');
            if (j == i) {
                sb.append(lines[j]).append('\n');
            }
        }
        return sb.toString();
    }

    private static String deleteLine(String s, SplittableRandom rnd) {
        String[] lines = s.split("\n", -1);
        int i = rnd.nextInt(lines.length);
        var sb = new StringBuilder();
        for (int j = 0; j < lines.length; j++) {
            if (j != i) {
                sb.append(lines[j]).append('\n');
            }
        }
        return sb.toString();
    }

    private static String swapLines(String s, SplittableRandom rnd) {
        String[] lines = s.split("\n", -1);
        int i = rnd.nextInt(lines.length);
        int j = rnd.nextInt(lines.length);
        String t = lines[i];
        lines[i] = lines[j];
        lines[j] = t;
        return String.join("\n", lines);
    }
}
