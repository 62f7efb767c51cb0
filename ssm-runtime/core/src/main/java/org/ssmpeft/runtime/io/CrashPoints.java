package org.ssmpeft.runtime.io;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * Named moments inside the writers (between the file-system steps of a save, a replacement, a deletion), where a
 * kill campaign can stop the JVM exactly: a random-time SIGKILL rarely lands in a window of microseconds, such as
 * the one between deleting a checkpoint's first file and its folder. Production code only announces the points;
 * nothing happens at them unless a test installs a hook (its child process halts there with
 * {@link Runtime#halt}, which, like SIGKILL, runs no finally block and no shutdown hook).
 */
public final class CrashPoints {

    private static volatile Consumer<String> hook = what -> { };

    private CrashPoints() {
    }

    /** Announces that the writer is at {@code what} (e.g. {@code "deleted <file>"}). */
    public static void reached(String what) {
        hook.accept(what);
    }

    /** Installs the hook of a kill campaign's child process. */
    public static void install(Consumer<String> h) {
        hook = Objects.requireNonNull(h);
    }

    /** Halts the JVM at the {@code n}-th point reached from now on (n >= 1). */
    public static void haltAt(int n) {
        int[] count = {0};
        install(what -> {
            if (++count[0] == n) {
                Runtime.getRuntime().halt(137);
            }
        });
    }
}
