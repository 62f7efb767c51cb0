package org.ssmpeft.runtime.cuda.model;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;

/**
 * The copies between host and device a model call makes, all on the context's stream: token ids and targets up
 * (int32), the call's adapter values up in one piece ({@link Staging}), and the results down (logits, per-row losses,
 * states, gradients). A download waits for the work queued before it; nothing else in a call waits for the host.
 */
final class HostCopies {

    private HostCopies() {
    }

    /** ids (int32, row-major, the rows concatenated) on the device: tokens (B, T) or targets (M). */
    static long upload(DeviceArena arena, CudaContext context, int[]... rows) {
        int n = 0;
        for (int[] r : rows) {
            n += r.length;
        }
        DeviceBuffer buf = arena.allocate(4L * Math.max(1, n));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(4L * Math.max(1, n), 16);
            int at = 0;
            for (int[] r : rows) {
                MemorySegment.copy(r, 0, host, JAVA_INT, 4L * at, r.length);
                at += r.length;
            }
            context.driver().copyHostToDeviceAsync(buf.address(), host, 4L * n, context.stream());
            context.syncStream(); // the host segment is freed when the arena closes
        }
        return buf.address();
    }

    /** {@code count} floats at device address {@code src}, after the work queued before. */
    static float[] download(CudaContext context, long src, long count) {
        float[] out = new float[Math.toIntExact(count)];
        if (count == 0) {
            return out;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(4L * count, 16);
            context.driver().copyDeviceToHostAsync(host, src, 4L * count, context.stream());
            context.syncStream();
            MemorySegment.copy(host, JAVA_FLOAT, 0, out, 0, out.length);
        }
        return out;
    }

    /** {@code values} into device memory at {@code dst}. */
    static void upload(CudaContext context, long dst, float[] values) {
        if (values.length == 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocateFrom(JAVA_FLOAT, values);
            context.driver().copyHostToDeviceAsync(dst, host, 4L * values.length, context.stream());
            context.syncStream();
        }
    }

    /**
     * Host arrays gathered into one device allocation with one copy: {@link #add} registers an array (once per array
     * object), {@link #upload} allocates and copies them all, and {@link #address} then gives each array's device
     * address. Each piece starts at a multiple of 64 floats (256 bytes, the driver's allocation alignment, so a piece
     * is as aligned as an allocation of its own).
     */
    static final class Staging {
        private static final int ALIGN = 64;
        private final java.util.IdentityHashMap<float[], Long> offsets = new java.util.IdentityHashMap<>();
        private final List<float[]> pieces = new ArrayList<>();
        private long used;
        private long base;

        /** Registers {@code values} (read at {@link #upload}); an array already registered is kept once. */
        void add(float[] values) {
            if (base != 0) {
                throw new IllegalStateException("the staging area was uploaded already");
            }
            if (offsets.containsKey(values)) {
                return;
            }
            offsets.put(values, used);
            pieces.add(values);
            used += Math.max(ALIGN, (values.length + ALIGN - 1) / ALIGN * ALIGN);
        }

        /** Copies every registered array up, in one transfer, into memory of {@code arena}. */
        void upload(DeviceArena arena, CudaContext context) {
            if (used == 0) {
                return;
            }
            DeviceBuffer buffer = arena.allocateFloats(used);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment host = a.allocate(4L * used, 16);
                for (float[] p : pieces) {
                    MemorySegment.copy(p, 0, host, JAVA_FLOAT, 4L * offsets.get(p), p.length);
                }
                context.driver().copyHostToDeviceAsync(buffer.address(), host, 4L * used, context.stream());
                context.syncStream();
            }
            base = buffer.address();
        }

        /** The device address of a registered array, after {@link #upload}. */
        long address(float[] values) {
            Long at = offsets.get(values);
            if (at == null || base == 0) {
                throw new IllegalStateException(at == null ? "array not registered in the staging area"
                        : "the staging area is not uploaded yet");
            }
            return base + 4L * at;
        }
    }
}
