package org.ssmpeft.runtime.cuda.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The chunk pool on a fake driver: aligned pieces inside chunks, reuse after an arena closes, everything freed. */
class ChunkPoolTest {

    private final Set<Long> live = new HashSet<>();
    private final List<Long> allocations = new ArrayList<>();
    private long next = 1L << 30;
    private long limit = Long.MAX_VALUE;

    private long alloc(long bytes) {
        if (heldBytes() + bytes > limit) {
            throw new IllegalStateException("out of memory");
        }
        long at = next;
        next += bytes + 4096;
        live.add(at);
        allocations.add(bytes);
        sizes.put(at, bytes);
        return at;
    }

    private final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();

    private long heldBytes() {
        return live.stream().mapToLong(sizes::get).sum();
    }

    private void free(long at) {
        assertThat(live.remove(at)).as("free of a live chunk").isTrue();
    }

    @Test
    void piecesAreAlignedDistinctAndInsideTheirChunk() {
        try (ChunkPool pool = new ChunkPool(this::alloc, this::free)) {
            DeviceMemory.Arena a = pool.arena();
            long p = a.floats(3);
            long q = a.floats(1000);
            long r = a.floats(1);
            assertThat(p % 256).isZero();
            assertThat(q - p).isEqualTo(256);
            assertThat(r - q).isEqualTo(4096);
            assertThat(allocations).containsExactly(ChunkPool.FIRST_CHUNK);
            long big = a.floats(ChunkPool.FIRST_CHUNK); // 4 MiB: a chunk of its own
            assertThat(allocations).hasSize(2).last().isEqualTo(4 * ChunkPool.FIRST_CHUNK);
            assertThat(big % 256).isZero();
            a.close();
        }
        assertThat(live).isEmpty();
    }

    @Test
    void aClosedArenasChunksServeTheNextCallWithoutTheDriver() {
        try (ChunkPool pool = new ChunkPool(this::alloc, this::free)) {
            for (int call = 0; call < 100; call++) {
                try (DeviceMemory.Arena a = pool.arena()) {
                    for (int i = 0; i < 50; i++) {
                        a.floats(10_000);
                    }
                }
            }
            assertThat(allocations).as("chunks taken from the driver over 100 calls").hasSizeLessThanOrEqualTo(3);
        }
        assertThat(live).isEmpty();
    }

    @Test
    void aRefusedAllocationIsRetriedAfterGivingIdleChunksBack() {
        try (ChunkPool pool = new ChunkPool(this::alloc, this::free)) {
            try (DeviceMemory.Arena a = pool.arena()) {
                a.floats(ChunkPool.FIRST_CHUNK / 4);
            }
            limit = ChunkPool.FIRST_CHUNK * 5 / 2;
            try (DeviceMemory.Arena b = pool.arena()) {
                b.floats(ChunkPool.FIRST_CHUNK / 2); // 2 MiB: the idle 1 MiB chunk does not fit, is given back
                assertThat(pool.held()).isEqualTo(2 * ChunkPool.FIRST_CHUNK);
                assertThatThrownBy(() -> b.floats(ChunkPool.FIRST_CHUNK)).hasMessageContaining("out of memory");
            }
        }
        assertThat(live).isEmpty();
    }
}
