package org.ssmpeft.runtime.data;

/**
 * What the examples are for, as the paper code's {@code mode}: {@code TRAIN} ("lm": one example per reference,
 * teacher-forced) or {@code GENERATE} ("gen": one example per source with all its references, for scoring).
 */
public enum Mode {
    TRAIN, GENERATE
}
