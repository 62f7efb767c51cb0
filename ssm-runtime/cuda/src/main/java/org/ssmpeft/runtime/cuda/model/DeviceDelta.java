package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.plan.HookPlan;

/**
 * One low-rank delta of a call on the device: the plan's {@link HookPlan.LowRank} (its terms, scale, rank, rows) with
 * the device addresses of its factors, and for DoRA the gain g = m / n (out), the detached norms n (out) and the
 * weight W (out_full, in) the norms were taken of (the base weight: DoRA refuses a parameter delta on it).
 *
 * @param a      A (rank, in)
 * @param b      B (out, rank)
 * @param gain   DoRA's g (out), or 0 without DoRA
 * @param norm   DoRA's n (out), or 0
 * @param weight W (out_full, in) for DoRA, or 0
 */
record DeviceDelta(HookPlan.LowRank delta, long a, long b, long gain, long norm, long weight) {

    boolean dora() {
        return gain != 0;
    }
}
