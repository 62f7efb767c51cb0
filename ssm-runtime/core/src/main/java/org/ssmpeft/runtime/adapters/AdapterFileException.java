package org.ssmpeft.runtime.adapters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An adapter folder that cannot be loaded (or saved), with every problem found: each names the file or tensor, what
 * was expected and what was found. Nothing was applied anywhere when this is thrown.
 */
public class AdapterFileException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient List<String> problems;

    public AdapterFileException(Path dir, List<String> problems) {
        super(format(dir, problems));
        this.problems = List.copyOf(problems);
    }

    public AdapterFileException(Path dir, String problem, Throwable cause) {
        super(format(dir, List.of(problem)), cause);
        this.problems = List.of(problem);
    }

    public List<String> problems() {
        return problems;
    }

    private static String format(Path dir, List<String> problems) {
        String head = "adapter folder " + dir + " cannot be loaded";
        if (problems.size() == 1) {
            return head + ": " + problems.getFirst();
        }
        return problems.stream().map(p -> "  " + p).collect(Collectors.joining("\n", head + " (" + problems.size()
                + " problems):\n", ""));
    }
}
