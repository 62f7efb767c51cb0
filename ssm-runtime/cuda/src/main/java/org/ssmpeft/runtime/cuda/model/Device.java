package org.ssmpeft.runtime.cuda.model;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.ssmpeft.runtime.cuda.driver.Cublas;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.layers.DeviceLinear;
import org.ssmpeft.runtime.cuda.layers.LayerKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;

/**
 * One GPU as a model uses it: a context with its one stream, one cuBLAS handle, the layer and scan kernels, and the
 * lock that serialises every call on them. A stream and a cuBLAS handle serve one caller at a time, so the model and
 * its states run everything through {@link #locked}, which also makes the context current on the calling thread
 * (driver and cuBLAS calls act on the thread's current context, and callers come from any thread).
 */
final class Device implements AutoCloseable {

    private final CudaContext context;
    private final Cublas cublas;
    private final LayerKernels layers;
    private final DeviceLinear linear;
    private final SelectiveScanKernels scan;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    private Device(CudaContext context, Cublas cublas, LayerKernels layers, SelectiveScanKernels scan) {
        this.context = context;
        this.cublas = cublas;
        this.layers = layers;
        this.linear = new DeviceLinear(cublas, layers);
        this.scan = scan;
    }

    /** Device {@code ordinal} with its handle and kernels (compiled, or taken from the disk cache). */
    static Device open(int ordinal) throws CudaUnavailableException {
        CudaContext context = CudaContext.open(ordinal);
        try {
            context.bind();
            Cublas cublas = Cublas.create(context);
            try {
                return new Device(context, cublas, new LayerKernels(context), new SelectiveScanKernels(context));
            } catch (RuntimeException | Error e) {
                cublas.close();
                throw e;
            }
        } catch (CudaUnavailableException | RuntimeException | Error e) {
            context.close();
            throw e;
        }
    }

    CudaContext context() {
        return context;
    }

    LayerKernels layers() {
        return layers;
    }

    DeviceLinear linear() {
        return linear;
    }

    SelectiveScanKernels scan() {
        return scan;
    }

    /** Runs {@code work} holding the lock, the context current on this thread; fails once the device is closed. */
    <T> T locked(Supplier<T> work) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the cuda model is closed; create it again from its spec");
            }
            context.bind();
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
                context.bind();
                work.run();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@link #close} ran (a state closed after its model has nothing left to free). */
    boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /** Destroys the handle and the stream and releases the context; memory is freed by its arenas' owners first. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            context.bind();
            try {
                cublas.close();
            } finally {
                context.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
