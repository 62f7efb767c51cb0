package org.ssmpeft.runtime.cuda.bench;

import java.util.function.IntConsumer;
import org.ssmpeft.runtime.cuda.driver.CudaContext;

/**
 * CUDA-event timings of one pass of a kernel benchmark over rotating input sets (call i uses set i mod sets), after
 * {@link #WARM} warm-up calls: per call ({@link #each}: events around each call, so the host's launch latency counts,
 * as the anchors' per-call events count it) and back to back ({@link #bursts}: {@link #BURST} calls between one pair
 * of events, the stream never waiting for the host: the device's time per call alone). Times in ms.
 */
final class PassTimer {

    static final int WARM = 20;
    static final int BURST = 10;

    private PassTimer() {
    }

    /** reps per-call times of call(set); before(set), if not null, runs first, outside the events. */
    static double[] each(CudaContext ctx, int reps, int sets, IntConsumer before, IntConsumer call) {
        double[] t = new double[reps];
        for (int i = -WARM; i < reps; i++) {
            int set = Math.floorMod(i, sets);
            if (before != null) {
                before.accept(set);
            }
            float ms = ctx.time(() -> call.accept(set));
            if (i >= 0) {
                t[i] = ms;
            }
        }
        return t;
    }

    /** reps / BURST per-call times of call(set), each the mean of BURST calls between one pair of events. */
    static double[] bursts(CudaContext ctx, int reps, int sets, IntConsumer call) {
        double[] t = new double[reps / BURST];
        for (int i = -WARM / BURST; i < t.length; i++) {
            int i0 = i;
            float ms = ctx.time(() -> {
                for (int j = 0; j < BURST; j++) {
                    call.accept(Math.floorMod(i0 * BURST + j, sets));
                }
            });
            if (i >= 0) {
                t[i] = ms / BURST;
            }
        }
        return t;
    }
}
