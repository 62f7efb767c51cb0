package org.ssmpeft.api.config;

import java.nio.file.Path;
import java.util.Locale;

/** The two spellings of a config file. */
public enum ConfigFormat {
    JSON, YAML;

    /** YAML for {@code .yaml}/{@code .yml}, JSON otherwise. */
    public static ConfigFormat of(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".yaml") || n.endsWith(".yml") ? YAML : JSON;
    }
}
