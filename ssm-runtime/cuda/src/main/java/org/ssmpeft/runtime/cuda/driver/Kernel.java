package org.ssmpeft.runtime.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** One {@code __global__} function of a {@link CudaModule}, launched on its context's stream. */
public final class Kernel {

    private final CudaContext context;
    private final long function;
    private final String name;
    // the dynamic shared memory this function is opted in to: every launch with more sets the attribute first. It
    // starts at 0, not at the 48 KB a launch gets without opting in, because that 48 KB also holds the function's
    // static shared memory (48 KB dynamic + 64 bytes static failed with CUDA_ERROR_INVALID_VALUE)
    private int sharedLimit = 0;

    Kernel(CudaContext context, long function, String name) {
        this.context = context;
        this.function = function;
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Kernel arguments in order: device pointers and 64-bit values as {@code long}, {@code int}, {@code float},
     * {@code double}. */
    public void launch(int gx, int gy, int gz, int block, int sharedBytes, Object... args) {
        if (sharedBytes > sharedLimit) {
            context.driver().functionSetAttribute(function, Driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    sharedBytes);
            sharedLimit = sharedBytes;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment values = a.allocate(8L * Math.max(1, args.length), 8);
            MemorySegment params = a.allocate(ADDRESS, Math.max(1, args.length));
            for (int i = 0; i < args.length; i++) {
                MemorySegment slot = values.asSlice(8L * i, 8);
                switch (args[i]) {
                    case Long l -> slot.set(JAVA_LONG, 0, l);
                    case Integer n -> slot.set(JAVA_INT, 0, n);
                    case Float f -> slot.set(JAVA_FLOAT, 0, f);
                    case Double d -> slot.set(JAVA_DOUBLE, 0, d);
                    case DeviceBuffer b -> slot.set(JAVA_LONG, 0, b.address());
                    case null -> slot.set(JAVA_LONG, 0, 0L);
                    default -> throw new IllegalArgumentException(
                            name + ": argument " + i + " of type " + args[i].getClass().getSimpleName()
                                    + " (expected long, int, float, double, DeviceBuffer or null)");
                }
                params.setAtIndex(ADDRESS, i, slot);
            }
            context.driver().launch(function, gx, gy, gz, block, 1, 1, sharedBytes, context.stream(), params);
        }
    }
}
