package org.ssmpeft.runtime.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The scores of one evaluation, after {@code step} optimiser steps, in the evaluator's order. */
public record EvalRecord(int step, Map<String, Double> scores) {

    public EvalRecord {
        scores = Collections.unmodifiableMap(new LinkedHashMap<>(scores));
    }
}
