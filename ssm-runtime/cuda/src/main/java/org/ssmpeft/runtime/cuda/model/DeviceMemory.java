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

    /**
     * dst <- int32 {@code values}, host to device, into a buffer allocated before (a decoder's token ids). By default
     * through {@link #upload} with the ids' bits as floats (the emulation's int32 buffers hold exactly that).
     */
    default void uploadInts(long dst, int[] values) {
        float[] bits = new float[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Float.intBitsToFloat(values[i]);
        }
        upload(dst, bits);
    }

    /** {@code n} int32 at {@code src}, after the work queued before; by default the bits of {@link #download}. */
    default int[] downloadInts(long src, int n) {
        float[] bits = download(src, n);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = Float.floatToRawIntBits(bits[i]);
        }
        return out;
    }

    /**
     * Work queued again and again without its host code: {@link #record} takes what a body queues, {@link #launch}
     * queues all of it once more, on the same buffers with the same arguments (on the GPU one CUDA graph launch:
     * one driver call instead of one per kernel).
     */
    interface Replay extends AutoCloseable {

        /** Queues the recorded work once. */
        void launch();

        /** Frees the recording (after the stream has finished with it). */
        @Override
        void close();
    }

    /**
     * Records what {@code body} queues, without running it. The body must not wait for the host (no download,
     * upload or sync: the capture fails naming the call), and every buffer it touches must outlive the replay (the
     * buffers it allocates come from arenas the caller keeps open). By default (the emulation, which queues
     * nothing) the replay runs the body again at each launch: the same operations on the same buffers.
     */
    default Replay record(Runnable body) {
        return new Replay() {
            @Override
            public void launch() {
                body.run();
            }

            @Override
            public void close() {
            }
        };
    }

    /** Gives memory kept for reuse (idle chunks, none in use) back to the driver; for a model's close. */
    default void trim() {
    }
}
