package org.ssmpeft.runtime.data;

/** A published split of a benchmark. */
public enum Split {
    TRAIN, VALIDATION, TEST
}
