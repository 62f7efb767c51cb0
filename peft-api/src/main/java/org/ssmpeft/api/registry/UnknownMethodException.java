package org.ssmpeft.api.registry;

/** A config or a call named a PEFT method that no installed provider has. */
public class UnknownMethodException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public UnknownMethodException(String message) {
        super(message);
    }
}
