package org.ssmpeft.runtime.cuda.model;

/**
 * Device memory as the model uses it: arenas for a call's, a state's or the weights' buffers, and the copies, all
 * ordered on the device's one stream. A download waits for the work queued before it; nothing else waits for the
 * host. On the GPU this is the driver's ({@link CudaDevice}); the package's tests also run the model on a host
 * emulation of the same operations.
 */
interface DeviceMemory {

    /** Buffers freed together on {@link #close}, in reverse order. Not thread-safe: one owner at a time. */
    interface Arena extends AutoCloseable {

        /** {@code n} floats, uninitialised, 256-byte aligned; the device address. */
        long floats(long n);

        /**
         * {@code n} bfloat16 elements (2 bytes each), uninitialised, 256-byte aligned; the device address. An element
         * {@code i} of such a buffer is at {@code address + 2·i}; only bf16 products and {@link LayerOps#toBf16}
         * touch it.
         */
        default long bf16(long n) {
            return floats((n + 1) / 2);
        }

        /** Bytes held now. */
        long bytes();

        @Override
        void close();
    }

    /** A new, empty arena. */
    Arena arena();

    /** dst (n floats) <- 0. */
    void zero(long dst, long n);

    /** dst (n floats) <- src (n floats), device to device. */
    void copy(long dst, long src, long n);

    /** dst <- {@code values}, host to device. */
    void upload(long dst, float[] values);

    /** int32 ids (the rows concatenated, row-major) into a new buffer of {@code arena}: tokens (B, T), targets (M). */
    long uploadInts(Arena arena, int[]... rows);

    /** {@code n} floats at {@code src}, after the work queued before. */
    float[] download(long src, long n);

    /** Waits until the queued work has finished. */
    void sync();

    /** Gives memory kept for reuse (idle chunks, none in use) back to the driver; for a model's close. */
    default void trim() {
    }
}
