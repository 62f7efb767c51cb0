package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongConsumer;
import java.util.function.LongUnaryOperator;

/**
 * Device memory in large chunks, kept for reuse until {@link #close}, with arenas that hand out 256-byte aligned
 * pieces of them (a bump allocator). A model's calls run one at a time and each frees its arena when it returns, so
 * after the first call of a shape a call or a decode step allocates nothing from the driver: no {@code cuMemAlloc},
 * no {@code cuMemFree} (which waits for the device) per buffer. The price is the high-water mark of the calls, held
 * until the model closes (PyTorch's caching allocator makes the same trade). An allocation the driver refuses is
 * retried once after the free chunks are given back to it.
 *
 * <p>Chunks grow geometrically per arena, {@value #FIRST_CHUNK} bytes first, doubling up to {@value #MAX_CHUNK},
 * and a piece larger than that gets a chunk of its own size. Not thread-safe: used under the device lock.
 */
final class ChunkPool implements AutoCloseable {

    static final long FIRST_CHUNK = 1L << 20;
    static final long MAX_CHUNK = 256L << 20;
    private static final long ALIGN = 256;

    private final LongUnaryOperator alloc;
    private final LongConsumer free;
    private final Map<Long, Long> sizes = new HashMap<>();        // every chunk: address -> bytes
    private final TreeMap<Long, ArrayDeque<Long>> idle = new TreeMap<>(); // bytes -> idle chunks of that size
    private long held;
    private boolean closed;

    /** @param alloc bytes -> a device address (fails with a RuntimeException); @param free gives one back */
    ChunkPool(LongUnaryOperator alloc, LongConsumer free) {
        this.alloc = alloc;
        this.free = free;
    }

    /** A chunk of at least {@code bytes}: the smallest idle one that fits, else a new one. */
    long take(long bytes) {
        if (closed) {
            throw new IllegalStateException("the device's memory pool is closed");
        }
        Map.Entry<Long, ArrayDeque<Long>> fit = idle.ceilingEntry(bytes);
        if (fit != null) {
            long at = fit.getValue().pop();
            if (fit.getValue().isEmpty()) {
                idle.remove(fit.getKey());
            }
            return at;
        }
        long at;
        try {
            at = alloc.applyAsLong(bytes);
        } catch (RuntimeException refused) {
            if (idle.isEmpty()) {
                throw refused;
            }
            releaseIdle();
            at = alloc.applyAsLong(bytes);
        }
        sizes.put(at, bytes);
        held += bytes;
        return at;
    }

    /** Puts a chunk back for reuse. */
    void give(long chunk) {
        Long bytes = sizes.get(chunk);
        if (bytes == null) {
            throw new IllegalStateException("chunk " + chunk + " is not this pool's");
        }
        idle.computeIfAbsent(bytes, k -> new ArrayDeque<>()).push(chunk);
    }

    /** Gives every idle chunk back to the driver. */
    void releaseIdle() {
        for (ArrayDeque<Long> q : idle.values()) {
            for (long at : q) {
                held -= sizes.remove(at);
                free.accept(at);
            }
        }
        idle.clear();
    }

    /** Bytes held from the driver, idle or in use. */
    long held() {
        return held;
    }

    /** A new arena over this pool. */
    DeviceMemory.Arena arena() {
        return new PooledArena();
    }

    /** Frees every chunk, in use or not (the owner closed its arenas first). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (long at : List.copyOf(sizes.keySet())) {
            try {
                free.accept(at);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        sizes.clear();
        idle.clear();
        held = 0;
        if (first != null) {
            throw first;
        }
    }

    /** Pieces of chunks, bump-allocated; its chunks go back to the pool on close. */
    private final class PooledArena implements DeviceMemory.Arena {
        private final List<Long> chunks = new ArrayList<>();
        private long next = FIRST_CHUNK;
        private long chunk;
        private long chunkBytes;
        private long used;
        private long bytes;
        private boolean arenaClosed;

        @Override
        public long floats(long n) {
            if (arenaClosed) {
                throw new IllegalStateException("the arena is closed");
            }
            long need = (Math.max(1, Math.multiplyExact(n, 4L)) + ALIGN - 1) / ALIGN * ALIGN;
            if (chunk == 0 || used + need > chunkBytes) {
                long size = Math.max(need, next);
                chunk = take(size);
                chunkBytes = sizes.get(chunk); // an idle chunk may be larger than asked
                chunks.add(chunk);
                used = 0;
                next = Math.min(MAX_CHUNK, next * 2);
            }
            long at = chunk + used;
            used += need;
            bytes += need;
            return at;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public void close() {
            if (arenaClosed) {
                return;
            }
            arenaClosed = true;
            if (!closed) {
                for (int i = chunks.size() - 1; i >= 0; i--) {
                    give(chunks.get(i));
                }
            }
            chunks.clear();
            bytes = 0;
        }
    }
}
