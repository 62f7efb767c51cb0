package org.ssmpeft.api.adapter;

import java.util.List;

/**
 * An adapter whose trainable tensors are placed by a short training run of other adapters first: SDLoRA's warm-up,
 * which trains LoRA and a dense {@code A_log} delta to choose the channels and states its sparse deltas update.
 * Optional, like the hook interfaces: an adapter implements it only when it needs it, and a trainer that sees an
 * acting adapter with {@link #needsWarmUp()} runs, before its own run,
 *
 * <ol>
 *   <li>a run of {@link #warmUpAdapters()} (alone, as a separate run with the same options, data order and
 *       schedule, stopped after {@link #warmUpSteps()} steps: the first steps of the real run's schedule), then</li>
 *   <li>{@link #select} with those trained adapters, which fixes this adapter's structure,</li>
 * </ol>
 *
 * and only then trains this adapter from its initial values, with a fresh optimiser, from the first batch: the
 * reference's two runs (furiosa-ai/ssm-peft {@code train.py}: a warm-up run that saves the selection, then a new run
 * that loads it). Why an interface and not a trainer callback: the warm-up's adapters and the selection are the
 * method's knowledge, the loop that trains them is the trainer's; this way neither knows the other's insides, and a
 * selection made once is part of the adapter's config, so a saved adapter never warms up again.
 */
public interface WarmUp {

    /** Optimiser steps of the warm-up run (the reference's {@code num_warmup_it} + 1). */
    int warmUpSteps();

    /** Whether the structure is still to be chosen (false once {@link #select} ran or the config carried it). */
    boolean needsWarmUp();

    /** New adapters the warm-up run trains, at their initial values; each call makes new ones. */
    List<Adapter> warmUpAdapters();

    /** Fixes this adapter's structure from the warm-up's trained adapters (those {@link #warmUpAdapters} made). */
    void select(List<Adapter> warmedUp);
}
