package org.ssmpeft.runtime.cuda.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.ssmpeft.runtime.backend.Precision;

/**
 * The benchmarks' command line ({@link DecodeBench}, {@link TrainStepBench}): {@code --key value} pairs of known
 * keys, the last of a repeated key winning, and the checks of their values. Every failure is an
 * {@link IllegalArgumentException} naming the key and the value found (the benchmarks print it and exit 2).
 */
final class BenchOptions {

    private final Map<String, String> values;

    private BenchOptions(Map<String, String> values) {
        this.values = values;
    }

    /** The pairs of {@code args}; fails on a key not in {@code known} or one without a value, appending usage. */
    static BenchOptions parse(String[] args, List<String> known, String usage) {
        Map<String, String> v = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!known.contains(args[i])) {
                throw new IllegalArgumentException("unknown option '" + args[i] + "'; " + usage);
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(args[i] + " needs a value; " + usage);
            }
            v.put(args[i], args[++i]);
        }
        return new BenchOptions(v);
    }

    /** The value of {@code key} as given, or {@code fallback}. */
    String text(String key, String fallback) {
        return values.getOrDefault(key, fallback);
    }

    /** A whole number >= 1. */
    int positive(String key, int fallback) {
        int n = count(key, fallback);
        if (n < 1) {
            throw new IllegalArgumentException(key + " must be >= 1, found " + n);
        }
        return n;
    }

    /** A whole number >= 0. */
    int count(String key, int fallback) {
        String s = values.get(key);
        int n = s == null ? fallback : whole(key, s);
        if (n < 0) {
            throw new IllegalArgumentException(key + " must be >= 0, found " + n);
        }
        return n;
    }

    /** {@code --seed} (0). */
    long seed() {
        return Long.parseLong(text("--seed", "0"));
    }

    /** {@code --shape} (130m), one of {@link BenchSetup#shape}'s. */
    String shape() {
        String name = text("--shape", "130m");
        BenchSetup.shape(name); // an unknown shape fails here, before any work
        return name;
    }

    /** {@code --precision}: one {@link Precision#forName} reads, or a comma-separated list of them, in order. */
    List<Precision> precisions(String fallback) {
        List<Precision> out = new ArrayList<>();
        for (String p : text("--precision", fallback).split(",")) {
            try {
                out.add(Precision.forName(p));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--precision: " + e.getMessage() + ", or a list of them"
                        + " (fp32,bf16)", e);
            }
        }
        return List.copyOf(out);
    }

    static int whole(String key, String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " expects a whole number, found '" + s + "'", e);
        }
    }

    /**
     * The one of {@code values} whose name is {@code name}; else fails with {@code unknown} (a format of the name)
     * followed by every name, comma-separated.
     */
    static <T> T choose(String name, T[] values, Function<T, String> nameOf, String unknown) {
        for (T v : values) {
            if (nameOf.apply(v).equals(name)) {
                return v;
            }
        }
        throw new IllegalArgumentException(unknown.formatted(name)
                + String.join(", ", Arrays.stream(values).map(nameOf).toList()));
    }
}
