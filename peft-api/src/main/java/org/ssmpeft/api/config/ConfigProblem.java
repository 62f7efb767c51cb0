package org.ssmpeft.api.config;

/**
 * One thing wrong with a config: where ({@code adapters[1].rank}), and what was found and expected.
 */
public record ConfigProblem(String path, String message) {

    @Override
    public String toString() {
        return path.isEmpty() ? message : path + ": " + message;
    }
}
