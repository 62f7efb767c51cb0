package org.ssmpeft.examples.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What the commands check before any work: numeric options inside their range, and output folders that can be
 * written (not a file, not read-only, not inside a folder the command reads). Each refusal is a usage error naming
 * the option, the value and what was expected; nothing has been read or written when it comes.
 */
final class OutputChecks {

    private OutputChecks() {
    }

    /** Refuses {@code value} of {@code option} below {@code min}. */
    static void atLeast(CommandSpec spec, String option, long value, long min) {
        if (value < min) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": expected an integer >= " + min
                    + ", found " + value);
        }
    }

    /** Refuses a {@code value} of {@code option} that is not a finite number > 0. */
    static void positive(CommandSpec spec, String option, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": expected a finite number > 0,"
                    + " found " + value);
        }
    }

    /** Refuses a {@code value} of {@code option} that is not a finite number >= 0. */
    static void nonNegative(CommandSpec spec, String option, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + ": expected a finite number >= 0,"
                    + " found " + value);
        }
    }

    /**
     * Refuses an output folder the command cannot or must not write: an existing file, a folder (or the nearest
     * existing parent) that is not writable, a path under a file, or a path inside (or holding) one of the folders
     * the command reads ({@code reads}: what each is, e.g. "the model folder" -> path; null paths are skipped).
     */
    static void outputFolder(CommandSpec spec, String what, Path output, Map<String, Path> reads) {
        String message = problem(what, output, reads);
        if (message != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), message);
        }
    }

    /** {@link #outputFolder}'s verdict as a message, null when the folder can be written. */
    static String problem(String what, Path output, Map<String, Path> reads) {
        Path out = output.toAbsolutePath().normalize();
        if (Files.exists(out) && !Files.isDirectory(out)) {
            return what + " " + output + " is a file; expected a folder (or a path that does not exist yet)";
        }
        Path existing = out;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing != null && !Files.isDirectory(existing)) {
            return what + " " + output + " lies under " + existing + ", which is a file; expected a folder";
        }
        if (existing != null && !Files.isWritable(existing)) {
            return what + " " + output + (existing.equals(out) ? " is not writable"
                    : " cannot be created: " + existing + " is not writable") + "; choose a folder you can write";
        }
        for (var e : reads.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            Path read = real(e.getValue().toAbsolutePath().normalize());
            Path o = real(out);
            if (o.startsWith(read) || read.startsWith(o)) {
                return what + " " + output + (o.startsWith(read) ? " is inside " : " holds ") + e.getKey() + " "
                        + e.getValue() + ", which this command reads; write the output elsewhere";
            }
        }
        return null;
    }

    // the real path of the longest existing prefix, so a symbolic link does not hide that two paths meet
    private static Path real(Path p) {
        Path existing = p;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return p;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(p)).normalize();
        } catch (java.io.IOException e) {
            return p;
        }
    }
}
