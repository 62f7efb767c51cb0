package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Device memory emulated on the host, for running the model's orchestration without a GPU: every allocation is a
 * float[] of its own at a fake 256-byte aligned address, filled with NaN (an element a kernel reads before anything
 * wrote it shows up as NaN in the results, as uninitialised device memory would show up as garbage); an address is
 * resolved to (array, index) once per operand, so reading past an allocation throws, and so does any use of freed
 * memory. int32 buffers hold the ids' bits. A bf16 buffer ({@link Arena#bf16}) is a float[] too, one element per
 * bf16 value (written rounded, by {@link HostLayers#toBf16}), but its addresses step by 2 bytes as on the GPU, and
 * only {@link #bf16View} resolves them: an fp32 operand where a bf16 one is due, or the reverse, fails.
 */
final class HostMemory implements DeviceMemory {

    /** An operand: the allocation's array and the index of the address in it. */
    record View(float[] a, int at) {
        float get(long i) {
            return a[Math.toIntExact(at + i)];
        }

        void set(long i, float v) {
            a[Math.toIntExact(at + i)] = v;
        }

        void add(long i, float v) {
            a[Math.toIntExact(at + i)] += v;
        }

        int getInt(long i) {
            return Float.floatToRawIntBits(get(i));
        }
    }

    private final TreeMap<Long, float[]> live = new TreeMap<>();
    private final TreeMap<Long, float[]> liveBf16 = new TreeMap<>();
    private long next = 1L << 20;

    synchronized long allocate(long floats) {
        return allocate(live, floats, 4);
    }

    synchronized long allocateBf16(long elements) {
        return allocate(liveBf16, elements, 2);
    }

    private long allocate(TreeMap<Long, float[]> into, long elements, int bytes) {
        long at = next;
        float[] a = new float[Math.toIntExact(Math.max(1, elements))];
        Arrays.fill(a, Float.NaN);
        into.put(at, a);
        next += ((long) bytes * a.length + 255) / 256 * 256 + 256; // a gap: one past the end resolves to nothing
        return at;
    }

    synchronized void free(long at) {
        if (live.remove(at) == null && liveBf16.remove(at) == null) {
            throw new IllegalStateException("free of " + at + ", which is not a live allocation");
        }
    }

    /** The operand at device address {@code address}; fails for 0, an unaligned or a freed address. */
    synchronized View view(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("a null device address where an operand is required");
        }
        Map.Entry<Long, float[]> e = live.floorEntry(address);
        long off = e == null ? -1 : address - e.getKey();
        if (e == null || off % 4 != 0 || off / 4 >= e.getValue().length) {
            throw new IllegalArgumentException("device address " + address + " is in no live allocation");
        }
        return new View(e.getValue(), (int) (off / 4));
    }

    /** The bf16 operand at {@code address} (elements of 2 bytes); fails for 0 or an address of no bf16 buffer. */
    synchronized View bf16View(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("a null device address where a bf16 operand is required");
        }
        Map.Entry<Long, float[]> e = liveBf16.floorEntry(address);
        long off = e == null ? -1 : address - e.getKey();
        if (e == null || off % 2 != 0 || off / 2 >= e.getValue().length) {
            throw new IllegalArgumentException("device address " + address + " is in no live bf16 allocation");
        }
        return new View(e.getValue(), (int) (off / 2));
    }

    /** The operand, or null for 0 (absent). */
    View viewOrNull(long address) {
        return address == 0 ? null : view(address);
    }

    synchronized int liveAllocations() {
        return live.size() + liveBf16.size();
    }

    @Override
    public Arena arena() {
        return new Arena() {
            private final List<Long> held = new ArrayList<>();
            private long bytes;
            private boolean closed;

            @Override
            public long floats(long n) {
                if (closed) {
                    throw new IllegalStateException("the arena is closed");
                }
                long at = allocate(n);
                held.add(at);
                bytes += 4 * Math.max(1, n);
                return at;
            }

            @Override
            public long bf16(long n) {
                if (closed) {
                    throw new IllegalStateException("the arena is closed");
                }
                long at = allocateBf16(n);
                held.add(at);
                bytes += 2 * Math.max(1, n);
                return at;
            }

            @Override
            public long bytes() {
                return bytes;
            }

            @Override
            public void close() {
                if (closed) {
                    return;
                }
                closed = true;
                for (int i = held.size() - 1; i >= 0; i--) {
                    free(held.get(i));
                }
                held.clear();
                bytes = 0;
            }
        };
    }

    @Override
    public void zero(long dst, long n) {
        View v = view(dst);
        for (long i = 0; i < n; i++) {
            v.set(i, 0f);
        }
    }

    @Override
    public void copy(long dst, long src, long n) {
        View d = view(dst);
        View s = view(src);
        float[] tmp = new float[Math.toIntExact(n)];
        for (int i = 0; i < n; i++) {
            tmp[i] = s.get(i);
        }
        for (int i = 0; i < n; i++) {
            d.set(i, tmp[i]);
        }
    }

    @Override
    public void upload(long dst, float[] values) {
        if (values.length == 0) {
            return;
        }
        View d = view(dst);
        for (int i = 0; i < values.length; i++) {
            d.set(i, values[i]);
        }
    }

    @Override
    public long uploadInts(Arena arena, int[]... rows) {
        int n = 0;
        for (int[] r : rows) {
            n += r.length;
        }
        long dst = arena.floats(Math.max(1, n));
        View d = view(dst);
        int at = 0;
        for (int[] r : rows) {
            for (int id : r) {
                d.set(at++, Float.intBitsToFloat(id));
            }
        }
        return dst;
    }

    @Override
    public float[] download(long src, long n) {
        float[] out = new float[Math.toIntExact(n)];
        if (n == 0) {
            return out;
        }
        View s = view(src);
        for (int i = 0; i < n; i++) {
            out[i] = s.get(i);
        }
        return out;
    }

    @Override
    public void sync() {
    }
}
