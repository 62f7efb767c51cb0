package org.ssmpeft.runtime.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A data file that does not have its published layout: the message names the file, the record (index and line) or
 * line, and the field that was expected.
 */
public class DataFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code <file>, <where>: <problem>}. */
    static DataFormatException at(Path file, String where, String problem) {
        return new DataFormatException(file + ", " + where + ": " + problem);
    }
}
