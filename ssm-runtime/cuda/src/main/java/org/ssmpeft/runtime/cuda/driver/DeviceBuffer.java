package org.ssmpeft.runtime.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A range of device memory owned by a {@link DeviceArena}. Copies go through the context's stream (ordered after
 * the kernels queued there: the stream does not synchronise with the legacy default stream, so the plain
 * synchronous copies would not wait for them) and return once finished.
 */
public record DeviceBuffer(CudaContext context, long address, long bytes) {

    public long floats() {
        return bytes / 4;
    }

    /** A view {@code offsetBytes} into this buffer (no ownership). */
    public long at(long offsetBytes) {
        return address + offsetBytes;
    }

    public void copyFrom(float[] values) {
        require(values.length * 4L);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocateFrom(JAVA_FLOAT, values);
            context.driver().copyHostToDeviceAsync(address, host, values.length * 4L, context.stream());
            context.syncStream();
        }
    }

    public float[] toFloats() {
        return toFloats((int) (bytes / 4));
    }

    public float[] toFloats(int count) {
        require(count * 4L);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(count * 4L, 16);
            context.driver().copyDeviceToHostAsync(host, address, count * 4L, context.stream());
            context.syncStream();
            return host.toArray(JAVA_FLOAT);
        }
    }

    /** Uploads {@code values} rounded to bfloat16 (round to nearest even), two bytes each. */
    public void copyFromAsBf16(float[] values) {
        require(values.length * 2L);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(values.length * 2L, 16);
            for (int i = 0; i < values.length; i++) {
                host.setAtIndex(JAVA_SHORT, i, Bf16.fromFloat(values[i]));
            }
            context.driver().copyHostToDeviceAsync(address, host, values.length * 2L, context.stream());
            context.syncStream();
        }
    }

    /** Reads {@code count} bfloat16 values, widened to float. */
    public float[] bf16ToFloats(int count) {
        require(count * 2L);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(count * 2L, 16);
            context.driver().copyDeviceToHostAsync(host, address, count * 2L, context.stream());
            context.syncStream();
            float[] out = new float[count];
            for (int i = 0; i < count; i++) {
                out[i] = Bf16.toFloat(host.getAtIndex(JAVA_SHORT, i));
            }
            return out;
        }
    }

    /** Fills the buffer with a 32-bit pattern, e.g. a NaN, to catch elements a kernel does not write. */
    public void fill32(int pattern) {
        context.driver().memsetD32Async(address, pattern, bytes / 4, context.stream());
    }

    private void require(long need) {
        if (need > bytes) {
            throw new IllegalArgumentException("the device buffer holds " + bytes + " bytes; " + need + " asked for");
        }
    }
}
