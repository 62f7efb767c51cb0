package org.ssmpeft.runtime.cuda.driver;

import java.util.ArrayList;
import java.util.List;

/**
 * Device memory with a deterministic owner: every allocation made through an arena is freed when the arena
 * closes (in reverse order), so a model, a step or a test releases all it took in one place.
 * Not thread-safe: one owner at a time.
 */
public final class DeviceArena implements AutoCloseable {

    private final CudaContext context;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private long bytes;
    private boolean closed;

    DeviceArena(CudaContext context) {
        this.context = context;
    }

    /** {@code bytes} of device memory, uninitialised (rounded up to 256 bytes, the driver's alignment). */
    public DeviceBuffer allocate(long bytes) {
        if (closed) {
            throw new IllegalStateException("the device arena is closed");
        }
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation: " + bytes + " bytes");
        }
        long size = Math.max(256, (bytes + 255) & ~255L);
        long ptr = context.driver().memAlloc(size);
        DeviceBuffer b = new DeviceBuffer(context, ptr, bytes);
        buffers.add(b);
        this.bytes += size;
        return b;
    }

    public DeviceBuffer allocateFloats(long count) {
        return allocate(Math.multiplyExact(count, 4L));
    }

    /** A float buffer holding {@code values}. */
    public DeviceBuffer upload(float[] values) {
        DeviceBuffer b = allocateFloats(values.length);
        b.copyFrom(values);
        return b;
    }

    /** Bytes held now. */
    public long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (int i = buffers.size() - 1; i >= 0; i--) {
            try {
                context.driver().memFree(buffers.get(i).address());
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        buffers.clear();
        bytes = 0;
        if (first != null) {
            throw first;
        }
    }
}
