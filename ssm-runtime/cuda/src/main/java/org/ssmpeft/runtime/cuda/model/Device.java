package org.ssmpeft.runtime.cuda.model;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.ssmpeft.runtime.backend.Precision;

/**
 * One device as a model uses it: its memory and copies, the layer, product and scan operations, all queued on one
 * stream, and the lock that serialises every call on them. A stream and a cuBLAS handle serve one caller at a time,
 * so the model and its states run everything through {@link #locked}, which also makes the device current on the
 * calling thread (driver and cuBLAS calls act on the thread's current context, and callers come from any thread).
 * {@link CudaDevice#shared} gives the one of a GPU.
 */
final class Device implements AutoCloseable {

    private final String backend;
    private final String name;
    private final DeviceMemory memory;
    private final LayerOps layers;
    private final java.util.Map<Precision, ProductOps> linear;
    private final ScanOps scan;
    private final java.util.Optional<OptimizerOps> optimizer;
    private final Runnable bind;
    private final Runnable release;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    /**
     * @param backend the backend name the model and its states report ({@code cuda})
     * @param name    the device, for messages
     * @param linear  the products in each precision the device computes in (all on the one handle); with
     *                {@link Precision#BF16} their inputs hold bf16 ({@code DeviceLinear}'s contract)
     * @param bind    makes the device current on the calling thread
     * @param release frees what the device holds (handle, stream, context), once
     */
    Device(String backend, String name, DeviceMemory memory, LayerOps layers,
           java.util.Map<Precision, ProductOps> linear, ScanOps scan, Runnable bind, Runnable release) {
        this(backend, name, memory, layers, linear, scan, java.util.Optional.empty(), bind, release);
    }

    /** As above, with the optimiser step's operations (a device without them trains through the host). */
    Device(String backend, String name, DeviceMemory memory, LayerOps layers,
           java.util.Map<Precision, ProductOps> linear, ScanOps scan, java.util.Optional<OptimizerOps> optimizer,
           Runnable bind, Runnable release) {
        this.optimizer = optimizer;
        this.backend = backend;
        this.name = name;
        this.memory = memory;
        this.layers = layers;
        this.linear = java.util.Map.copyOf(linear);
        this.scan = scan;
        this.bind = bind;
        this.release = release;
    }

    String backend() {
        return backend;
    }

    String name() {
        return name;
    }

    DeviceMemory memory() {
        return memory;
    }

    LayerOps layers() {
        return layers;
    }

    /**
     * The raw products in {@code precision}, shared by every model on this device (a model's precision is its own:
     * it picks these by its spec's, {@link ModelProducts}); fails naming the precisions the device offers.
     */
    ProductOps linear(Precision precision) {
        ProductOps p = linear.get(precision);
        if (p == null) {
            throw new IllegalArgumentException("the device " + name + " has no " + precision + " products; it offers: "
                    + String.join(", ", new java.util.TreeSet<>(linear.keySet()).stream().map(Precision::id).toList()));
        }
        return p;
    }

    ScanOps scan() {
        return scan;
    }

    /** The optimiser step's operations, where the device has them ({@link CudaTrainingSession}). */
    java.util.Optional<OptimizerOps> optimizer() {
        return optimizer;
    }

    /** Runs {@code work} holding the lock, the device current on this thread; fails once the device is closed. */
    <T> T locked(Supplier<T> work) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the " + backend + " model is closed; create it again from its spec");
            }
            bind.run();
            return work.get();
        } finally {
            lock.unlock();
        }
    }

    void locked(Runnable work) {
        locked(() -> {
            work.run();
            return null;
        });
    }

    /** Runs {@code work} as {@link #locked} does, unless the device is closed already (then nothing). */
    void ifOpen(Runnable work) {
        lock.lock();
        try {
            if (!closed) {
                bind.run();
                work.run();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@link #close} ran. */
    boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /** Releases the device (its memory is freed by the arenas' owners first); later calls fail naming it. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            bind.run();
            release.run();
        } finally {
            lock.unlock();
        }
    }
}
