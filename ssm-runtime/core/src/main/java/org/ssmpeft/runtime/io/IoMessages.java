package org.ssmpeft.runtime.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * An I/O failure as one line that names the file and says what happened: Java's own messages are the bare path
 * ({@code AccessDeniedException: /x}) or the bare reason ({@code No space left on device}).
 */
public final class IoMessages {

    private IoMessages() {
    }

    /** {@code e} described; {@code file} is named when the exception does not name one itself. */
    public static String describe(IOException e, Object file) {
        String what = switch (e) {
            case AccessDeniedException a -> "permission denied";
            case NoSuchFileException n -> "no such file or folder";
            case NotDirectoryException n -> "not a folder";
            case java.nio.file.FileAlreadyExistsException f -> "already exists";
            case java.nio.file.DirectoryNotEmptyException d -> "folder not empty";
            case FileSystemException f -> f.getReason() != null ? f.getReason() : f.getClass().getSimpleName();
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
        if (e instanceof FileSystemException f && f.getFile() != null) {
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + what;
        }
        return file + ": " + what;
    }
}
