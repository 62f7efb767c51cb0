package org.ssmpeft.api.config;

import java.util.List;
import java.util.stream.Collectors;

/** A config that cannot be used, with every problem found in it. */
public class ConfigException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final transient List<ConfigProblem> problems;

    public ConfigException(String source, List<ConfigProblem> problems) {
        super(format(source, problems));
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    private static String format(String source, List<ConfigProblem> problems) {
        String head = "invalid config" + (source.isEmpty() ? "" : " " + source) + " (" + problems.size()
                + (problems.size() == 1 ? " problem)" : " problems)");
        return problems.stream().map(p -> "  " + p).collect(Collectors.joining("\n", head + ":\n", ""));
    }
}
