package org.ssmpeft.stateoffset;

import org.ssmpeft.api.config.Doc;

/**
 * Config of initial-state tuning.
 *
 * @param init how h0 starts; zero leaves the model unchanged
 */
public record InitialStateConfig(
        @Doc("zero (identity at start, the reference code's final configs) | kaiming-uniform (its 'random')"
                + " | normal (0.1*N(0,1))") StateInit init) {

    public static final InitialStateConfig DEFAULT = new InitialStateConfig(StateInit.ZERO);
}
