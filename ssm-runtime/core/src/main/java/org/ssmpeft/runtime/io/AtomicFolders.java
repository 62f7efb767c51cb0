package org.ssmpeft.runtime.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A folder of files replaced as one unit (an adapter's config and weights belong together: the weights of one
 * version beside the config of another is neither). The new content is written completely into a hidden staging
 * folder beside the target ({@code .NAME.saving-*}), forced to disk, and then swapped in by two atomic renames:
 * <pre>
 *   NAME -> .NAME.replaced-*        the old version, whole
 *   .NAME.saving-* -> NAME          the new version, whole
 * </pre>
 * A kill at any instant leaves the old version whole (in {@code NAME}, or in {@code .NAME.replaced-*} for the
 * instant between the renames) or the new one whole in {@code NAME}. {@link #readable} finds the version to read
 * without writing anything (a reader never writes into what it was asked to read); the next {@link #replace}
 * puts an interrupted swap right and removes the leftovers, so hidden folders do not pile up.
 *
 * <p>Files in the target that the writer does not produce are kept: they are hard-linked (or copied) into the new
 * version before the swap; sub-folders are moved over after it.
 */
public final class AtomicFolders {

    /** Writes the new content into an empty folder. */
    @FunctionalInterface
    public interface FolderWriter {
        void write(Path folder) throws IOException;
    }

    private static final String SAVING = ".saving-";
    private static final String REPLACED = ".replaced-";

    private AtomicFolders() {
    }

    /**
     * Replaces {@code target} by what {@code writer} writes; {@code ownNames} are the file names the writer
     * produces (other entries of an existing target are kept).
     */
    public static void replace(Path target, FolderWriter writer, Set<String> ownNames) throws IOException {
        Path dir = target.toAbsolutePath().normalize();
        Path parent = dir.getParent();
        if (parent == null) {
            throw new IOException("cannot replace the root folder " + dir);
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IOException(dir + " is a file, not a folder");
        }
        Files.createDirectories(parent);
        settle(dir);
        String name = dir.getFileName().toString();
        Path staging = Files.createTempDirectory(parent, "." + name + SAVING);
        boolean swapped = false;
        try {
            writer.write(staging);
            CrashPoints.reached("wrote " + staging);
            List<Path> subfolders = new ArrayList<>();
            if (Files.isDirectory(dir)) {
                try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
                    for (Path p : s) {
                        String n = p.getFileName().toString();
                        if (ownNames.contains(n) || Files.exists(staging.resolve(n))) {
                            continue;
                        }
                        if (Files.isDirectory(p)) {
                            subfolders.add(p.getFileName());
                        } else {
                            keep(p, staging.resolve(n));
                        }
                    }
                }
            }
            force(staging);
            if (!Files.exists(dir)) {
                move(staging, dir);
                swapped = true;
                force(parent);
                return;
            }
            Path replaced = parent.resolve("." + name + REPLACED + System.nanoTime());
            move(dir, replaced);
            CrashPoints.reached("moved " + dir + " aside");
            move(staging, dir);
            CrashPoints.reached("renamed the new " + dir + " into place");
            swapped = true;
            force(parent);
            for (Path sub : subfolders) {
                move(replaced.resolve(sub), dir.resolve(sub));
            }
            deleteTree(replaced);
        } finally {
            if (!swapped) {
                deleteTree(staging);
            }
        }
    }

    /**
     * The folder holding the current whole version of {@code target}: {@code target} itself, or, when a kill fell
     * between the two renames of a replacement, the hidden folder holding the previous version. Writes nothing.
     */
    public static Optional<Path> readable(Path target) {
        Path dir = target.toAbsolutePath().normalize();
        if (Files.isDirectory(dir)) {
            return Optional.of(dir);
        }
        return newest(dir, REPLACED);
    }

    // Puts an interrupted replacement right: a target missing beside a replaced version gets that version back;
    // staging folders and replaced versions beside an existing target are leftovers and go.
    private static void settle(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            Optional<Path> previous = newest(dir, REPLACED);
            if (previous.isPresent()) {
                move(previous.get(), dir);
            }
        }
        for (Path p : siblings(dir, SAVING)) {
            deleteTree(p);
        }
        for (Path p : siblings(dir, REPLACED)) {
            deleteTree(p);
        }
    }

    private static Optional<Path> newest(Path dir, String kind) {
        try {
            return siblings(dir, kind).stream().max(Comparator.comparingLong(p -> stamp(p, kind)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static long stamp(Path p, String kind) {
        String n = p.getFileName().toString();
        try {
            return Long.parseLong(n.substring(n.lastIndexOf(kind) + kind.length()));
        } catch (NumberFormatException e) {
            return Long.MIN_VALUE;
        }
    }

    private static List<Path> siblings(Path dir, String kind) throws IOException {
        Path parent = dir.getParent();
        String prefix = "." + dir.getFileName() + kind;
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(parent)) {
            return out;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(parent, p -> p.getFileName().toString()
                .startsWith(prefix) && Files.isDirectory(p))) {
            s.forEach(out::add);
        }
        return out;
    }

    private static void keep(Path from, Path to) throws IOException {
        try {
            Files.createLink(to, from);
        } catch (UnsupportedOperationException | IOException e) {
            if (e instanceof FileAlreadyExistsException) {
                throw (IOException) e;
            }
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + to + " as one unit: the file system of " + to.getParent()
                    + " has no atomic rename", e);
        }
    }

    // every file of the staging folder, then the folder's own entries, reach the disk before the swap
    private static void force(Path folder) throws IOException {
        if (Files.isDirectory(folder)) {
            try (Stream<Path> files = Files.list(folder)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                        ch.force(true);
                    } catch (IOException e) {
                        // a read-only kept file was forced when it was written
                    }
                }
            }
        }
        try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // directory fsync is best effort outside Linux, as in AtomicFiles
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
                CrashPoints.reached("deleted " + q);
            }
        }
    }
}
