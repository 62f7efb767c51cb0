package org.ssmpeft.api.config;

/**
 * Thrown by a config record's constructor when a field, or a combination of fields, is not acceptable. The binder
 * reports it as a {@link ConfigProblem} at the field's path.
 */
public class InvalidFieldException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String field;

    /**
     * @param field    the config name of the field ({@code targets}), or "" for the whole adapter
     * @param message  what was found and what is expected
     */
    public InvalidFieldException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
