package org.ssmpeft.api.composition;

/** Adapters that cannot be combined as asked, with the reason. */
public class CompositionException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    public CompositionException(String message) {
        super(message);
    }
}
