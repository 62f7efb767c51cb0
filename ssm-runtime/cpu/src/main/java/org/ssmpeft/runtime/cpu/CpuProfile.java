package org.ssmpeft.runtime.cpu;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where the cpu backend's time goes, per part of the model: the calling thread's wall time around each part (a
 * part's own work runs in parallel inside it), summed over layers and calls. On only in a JVM started with
 * {@code -Dssmpeft.cpu.profile=true} (BackendBench {@code --profile}); off, every probe is a test of a constant the
 * JIT folds away. A part of Mamba-1's mixer is timed by {@link CpuMamba}; the shell's (embedding, norms, in_proj,
 * out_proj, head, loss) by {@link CpuLanguageModel}, so Mamba-2 reports the shell's parts and its mixer as
 * {@link Part#OTHER}: the rest of a call's time.
 */
public final class CpuProfile {

    /** Whether the probes record. */
    public static final boolean ON = Boolean.getBoolean("ssmpeft.cpu.profile");

    /** The parts, forward then backward, each backward part with its weight and input gradients. */
    public enum Part {
        EMBED, NORM, IN_PROJ, CONV, X_PROJ, DT_PROJ, SCAN, OUT_PROJ, NORM_F, HEAD, LOSS,
        HEAD_BACKWARD, NORM_F_BACKWARD, OUT_PROJ_BACKWARD, SCAN_BACKWARD, DT_PROJ_BACKWARD, X_PROJ_BACKWARD,
        CONV_BACKWARD, IN_PROJ_BACKWARD, NORM_BACKWARD, EMBED_BACKWARD, OTHER
    }

    private static final LongAdder[] NANOS = new LongAdder[Part.values().length];

    static {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i] = new LongAdder();
        }
    }

    private CpuProfile() {
    }

    /** A probe's start: now (0 when off). */
    static long start() {
        return ON ? System.nanoTime() : 0;
    }

    /** Adds the time since {@code t0} to {@code part}; returns now, the next part's start (0 when off). */
    static long lap(Part part, long t0) {
        if (!ON) {
            return 0;
        }
        long t = System.nanoTime();
        NANOS[part.ordinal()].add(t - t0);
        return t;
    }

    /** The nanoseconds recorded per part since the last drain (parts with none left out), and a reset. */
    public static Map<Part, Long> drain() {
        Map<Part, Long> out = new EnumMap<>(Part.class);
        for (Part p : Part.values()) {
            long n = NANOS[p.ordinal()].sumThenReset();
            if (n > 0) {
                out.put(p, n);
            }
        }
        return out;
    }
}
