package org.ssmpeft.api.config;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One named adapter in a config file: the method that makes it, the layers it acts on and the method's typed config.
 *
 * @param name   instance name, unique in a file ({@code default} when a file holds one adapter and names none)
 * @param method provider name ({@code state-offset})
 * @param layers layers the adapter acts on
 * @param config the method's config record
 */
public record AdapterConfig(String name, String method, LayerSelection layers, Record config) {

    /** Names become file and folder names of saved adapters, so they are kept to a portable alphabet. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    public static final String DEFAULT_NAME = "default";

    public AdapterConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(layers, "layers");
        Objects.requireNonNull(config, "config");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(nameProblem(name));
        }
    }

    static String nameProblem(String name) {
        return "adapter name \"" + name + "\" is not allowed: expected 1-64 characters of letters, digits, '_', '.'"
                + " or '-', starting with a letter or digit";
    }
}
