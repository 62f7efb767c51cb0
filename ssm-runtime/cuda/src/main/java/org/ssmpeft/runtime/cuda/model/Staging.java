package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * Host arrays gathered into one device buffer with one copy (a call's adapter values): {@link #add} registers an
 * array (once per array object), {@link #upload} allocates and copies them all, and {@link #address} then gives each
 * array's device address. Each piece starts at a multiple of 64 floats (256 bytes, the driver's allocation
 * alignment, so a piece is as aligned as an allocation of its own).
 */
final class Staging {

    private static final int ALIGN = 64;

    private final IdentityHashMap<float[], Long> offsets = new IdentityHashMap<>();
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
        used += footprint(values.length);
    }

    /** Floats a piece of {@code n} floats takes: n rounded up to the alignment, at least one alignment unit. */
    static long footprint(long n) {
        return Math.max(ALIGN, (n + ALIGN - 1) / ALIGN * ALIGN);
    }

    /**
     * Copies every registered array up into a buffer of {@code arena}: in one transfer, or piece by piece when the
     * pieces are too many floats to pack into one host array (parameter deltas on a large model's every matrix).
     */
    void upload(DeviceMemory memory, DeviceMemory.Arena arena) {
        if (used == 0) {
            return;
        }
        base = arena.floats(used);
        if (used > PACK_LIMIT) {
            for (float[] p : pieces) {
                memory.upload(base + 4L * offsets.get(p), p);
            }
            return;
        }
        float[] packed = new float[Math.toIntExact(used)];
        for (float[] p : pieces) {
            System.arraycopy(p, 0, packed, Math.toIntExact(offsets.get(p)), p.length);
        }
        memory.upload(base, packed);
    }

    /** The most floats packed into one host array for one transfer (256 MiB). */
    static final long PACK_LIMIT = 1L << 26;

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
