package org.ssmpeft.runtime.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Durable, all-or-nothing file replacement: the content goes to a temporary file in the target's directory, is
 * forced to disk, and is then renamed over the target in one atomic step. A crash at any moment leaves either the
 * old file or the complete new one, never a torn one; a failure removes the temporary file.
 */
public final class AtomicFiles {

    /** Writes the content of one file through an open channel positioned at 0. */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Replaces {@code target} with what {@code writer} writes, atomically (temp file + fsync + rename + dir fsync). */
    public static void write(Path target, ChannelWriter writer) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Files.createDirectories(dir);
        removeStale(absolute);
        Path tmp = Files.createTempFile(dir, "." + absolute.getFileName() + ".", ".tmp");
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                CrashPoints.reached("wrote " + tmp);
                ch.force(true);
            } catch (IOException e) {
                // "No space left on device" names no file; the old content of the target is untouched
                throw new IOException("cannot write " + absolute + " (through " + tmp.getFileName() + "): "
                        + IoMessages.describe(e, tmp), e);
            }
            try {
                Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + absolute + " atomically: the file system of " + dir
                        + " does not support an atomic rename", e);
            }
            moved = true;
            CrashPoints.reached("renamed " + absolute);
            forceDirectory(dir);
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * Removes the temporary files a writer of {@code target} killed before its rename left ({@code .NAME.*.tmp}), so
     * they do not pile up; one writer per file is assumed, as everywhere in this project.
     */
    private static void removeStale(Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".";
        try (var s = Files.newDirectoryStream(target.getParent(), p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(".tmp") && Files.isRegularFile(p);
        })) {
            for (Path p : s) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Replaces {@code target} with {@code bytes}, atomically. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, ch -> {
            var buf = java.nio.ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        });
    }

    // The rename is durable only once the directory entry is on disk. Linux allows fsync on a directory opened
    // read-only; other systems may refuse, and there the rename's durability is the file system's own business.
    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort, see above
        }
    }
}
