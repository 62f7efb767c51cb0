package org.ssmpeft.api.config;

/**
 * An enum whose constants are spelled in configs by {@link #configName()} rather than by their Java name.
 * Enums that do not implement it are spelled in lower case with {@code -} for {@code _}.
 */
public interface ConfigEnum {
    String configName();
}
