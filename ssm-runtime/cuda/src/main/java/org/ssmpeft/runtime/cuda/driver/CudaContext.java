package org.ssmpeft.runtime.cuda.driver;

import java.util.List;

/**
 * One GPU as this library uses it: the driver, the device's primary context, one non-blocking stream that every
 * launch and copy goes through (so host copies see finished work after {@link #syncStream()}), NVRTC for the
 * kernels, and arenas for memory. Close it to destroy the stream and release the context.
 */
public final class CudaContext implements AutoCloseable {

    private final Driver driver;
    private final Nvrtc nvrtc;
    private final int device;
    private final long context;
    private final long stream;
    private final int ccMajor;
    private final int ccMinor;
    private final String name;
    private boolean closed;

    private CudaContext(Driver driver, Nvrtc nvrtc, int device) {
        this.driver = driver;
        this.nvrtc = nvrtc;
        this.device = device;
        this.context = driver.primaryContextRetain(device);
        try {
            driver.contextSetCurrent(context);
            this.ccMajor = driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
            this.ccMinor = driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
            this.name = driver.deviceName(device);
            this.stream = driver.streamCreate(Driver.CU_STREAM_NON_BLOCKING);
        } catch (RuntimeException e) {
            driver.primaryContextRelease(device); // a half-opened context gives its retain back
            throw e;
        }
    }

    /** Opens device {@code ordinal}; unavailable (with the reason) when the driver, NVRTC or the device is missing. */
    public static CudaContext open(int ordinal) throws CudaUnavailableException {
        Driver driver = Driver.load();
        Nvrtc nvrtc = Nvrtc.load();
        int count = driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new CudaUnavailableException("no CUDA device " + ordinal + ": the driver sees " + count);
        }
        try {
            return new CudaContext(driver, nvrtc, driver.device(ordinal));
        } catch (CudaException e) {
            throw new CudaUnavailableException("CUDA device " + ordinal + " did not open: " + e.getMessage(), e);
        }
    }

    public Driver driver() {
        return driver;
    }

    public Nvrtc nvrtc() {
        return nvrtc;
    }

    public long stream() {
        return stream;
    }

    /** e.g. "sm_90" for compute capability 9.0. */
    public String architecture() {
        return "sm_" + ccMajor + ccMinor;
    }

    public String deviceName() {
        return name;
    }

    public int attribute(int attribute) {
        return driver.attribute(attribute, device);
    }

    /** Makes this context current on the calling thread (driver calls act on the thread's current context). */
    public void bind() {
        driver.contextSetCurrent(context);
    }

    public void syncStream() {
        driver.streamSynchronize(stream);
    }

    public DeviceArena arena() {
        return new DeviceArena(this);
    }

    /** Compiles (or takes from the disk cache) a module of kernels shipped as a {@code .cu} resource. */
    public CudaModule module(String resource, List<String> options) {
        return CudaModule.load(this, resource, options);
    }

    /** Milliseconds of device time of {@code work}, measured with a pair of events on the stream. */
    public float time(Runnable work) {
        long start = driver.eventCreate(0);
        long end = driver.eventCreate(0);
        try {
            driver.eventRecord(start, stream);
            work.run();
            driver.eventRecord(end, stream);
            driver.eventSynchronize(end);
            return driver.eventElapsedMillis(start, end);
        } finally {
            driver.eventDestroy(start);
            driver.eventDestroy(end);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        driver.streamSynchronize(stream);
        driver.streamDestroy(stream);
        driver.primaryContextRelease(device);
    }
}
