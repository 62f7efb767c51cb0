package org.ssmpeft.runtime.io;

import java.util.Locale;

/**
 * Whether something the size a file or config says can be held at all, asked before it is allocated: a config that
 * asks for more floats than the heap can ever hold is refused with what it asked and the limit, instead of an
 * {@link OutOfMemoryError} part way through (which names neither).
 */
public final class HeapRoom {

    private HeapRoom() {
    }

    /**
     * Fails when {@code bytes} exceed the JVM's maximum heap ({@link Runtime#maxMemory()}); {@code what} names the
     * thing and where its size comes from.
     */
    public static void require(long bytes, String what) {
        long max = Runtime.getRuntime().maxMemory();
        if (bytes < 0 || bytes > max) {
            throw new IllegalArgumentException(what + " needs " + (bytes < 0 ? "more than 2^63 bytes"
                    : size(bytes)) + " of memory, more than this JVM's whole heap (" + size(max) + ", -Xmx): check"
                    + " the sizes, or run java with a larger -Xmx");
        }
    }

    /** {@code count} float32 values, in bytes, saturating instead of overflowing. */
    public static long floats(long count) {
        return count > Long.MAX_VALUE / Float.BYTES ? Long.MAX_VALUE : count * Float.BYTES;
    }

    static String size(long bytes) {
        if (bytes < 1L << 20) {
            return String.format(Locale.ROOT, "%,d bytes", bytes);
        }
        return bytes < 1L << 30 ? String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20))
                : String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
