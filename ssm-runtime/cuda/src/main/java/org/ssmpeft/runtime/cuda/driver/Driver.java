package org.ssmpeft.runtime.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The CUDA driver API ({@code libcuda.so.1}) through {@code java.lang.foreign}: device, primary context, memory,
 * streams, events, modules, launches and graphs. Each method checks the status and throws a {@link CudaException}
 * naming the call and the code's name ({@code cuGetErrorName}). Names are the versioned exports the CUDA 13 header
 * maps to ({@code cuMemAlloc_v2}, {@code cuEventElapsedTime_v2}, ...).
 */
public final class Driver {

    /** The oldest driver API this binding accepts: CUDA 12.0 (event timing uses cuEventElapsedTime_v2 where the driver has it, from 12.8). */
    public static final int MIN_DRIVER_VERSION = 12000;

    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    public static final int CU_STREAM_NON_BLOCKING = 1;
    public static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
    /** Capture that allows calls unsafe during capture (cuMemAlloc) on any thread. */
    public static final int CU_STREAM_CAPTURE_MODE_RELAXED = 2;

    private final MethodHandle cuInit, cuDriverGetVersion, cuGetErrorName, cuDeviceGetCount, cuDeviceGet,
            cuDeviceGetName, cuDeviceGetAttribute, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
            cuCtxSetCurrent, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemcpyHtoD, cuMemcpyDtoH,
            cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemsetD32Async, cuMemsetD8Async,
            cuStreamCreate, cuStreamSynchronize, cuStreamDestroy, cuEventCreate, cuEventRecord, cuEventSynchronize,
            cuEventElapsedTime, cuEventDestroy, cuModuleLoadData, cuModuleGetFunction, cuModuleUnload,
            cuFuncSetAttribute, cuLaunchKernel, cuStreamBeginCapture, cuStreamEndCapture,
            cuGraphInstantiateWithFlags, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy;

    private Driver(Downcalls d) throws CudaUnavailableException {
        cuInit = d.status("cuInit", JAVA_INT);
        cuDriverGetVersion = d.status("cuDriverGetVersion", ADDRESS);
        cuGetErrorName = d.status("cuGetErrorName", JAVA_INT, ADDRESS);
        cuDeviceGetCount = d.status("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = d.status("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = d.status("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = d.status("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDevicePrimaryCtxRetain = d.status("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = d.status("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = d.status("cuCtxSetCurrent", JAVA_LONG);
        cuCtxSynchronize = d.status("cuCtxSynchronize");
        cuMemAlloc = d.status("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = d.status("cuMemFree_v2", JAVA_LONG);
        cuMemGetInfo = d.status("cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuMemcpyHtoD = d.status("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = d.status("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyHtoDAsync = d.status("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoHAsync = d.status("cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoDAsync = d.status("cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemsetD32Async = d.status("cuMemsetD32Async", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
        cuMemsetD8Async = d.status("cuMemsetD8Async", JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_BYTE,
                JAVA_LONG, JAVA_LONG);
        cuStreamCreate = d.status("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamSynchronize = d.status("cuStreamSynchronize", JAVA_LONG);
        cuStreamDestroy = d.status("cuStreamDestroy_v2", JAVA_LONG);
        cuEventCreate = d.status("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = d.status("cuEventRecord", JAVA_LONG, JAVA_LONG);
        cuEventSynchronize = d.status("cuEventSynchronize", JAVA_LONG);
        cuEventElapsedTime = d.statusFirst(List.of("cuEventElapsedTime_v2", "cuEventElapsedTime"), ADDRESS, JAVA_LONG,
                JAVA_LONG);
        cuEventDestroy = d.status("cuEventDestroy_v2", JAVA_LONG);
        cuModuleLoadData = d.status("cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = d.status("cuModuleGetFunction", ADDRESS, JAVA_LONG, ADDRESS);
        cuModuleUnload = d.status("cuModuleUnload", JAVA_LONG);
        cuFuncSetAttribute = d.status("cuFuncSetAttribute", JAVA_LONG, JAVA_INT, JAVA_INT);
        cuLaunchKernel = d.status("cuLaunchKernel", JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        cuStreamBeginCapture = d.status("cuStreamBeginCapture_v2", JAVA_LONG, JAVA_INT);
        cuStreamEndCapture = d.status("cuStreamEndCapture", JAVA_LONG, ADDRESS);
        cuGraphInstantiateWithFlags = d.status("cuGraphInstantiateWithFlags", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuGraphLaunch = d.status("cuGraphLaunch", JAVA_LONG, JAVA_LONG);
        cuGraphExecDestroy = d.status("cuGraphExecDestroy", JAVA_LONG);
        cuGraphDestroy = d.status("cuGraphDestroy", JAVA_LONG);
    }

    /** Loads {@code libcuda.so.1} and runs {@code cuInit}; unavailable when the library, a device or a new enough driver is missing. */
    public static Driver load() throws CudaUnavailableException {
        var lib = NativeLibraries.load("the CUDA driver", List.of("libcuda.so.1", "libcuda.so"));
        Driver d = new Driver(new Downcalls(lib, "libcuda"));
        try {
            d.init();
            int version = d.driverVersion();
            if (version < MIN_DRIVER_VERSION) {
                throw new CudaUnavailableException("the CUDA driver is too old: API version " + version
                        + ", this backend needs " + MIN_DRIVER_VERSION + " or newer");
            }
            if (d.deviceCount() == 0) {
                throw new CudaUnavailableException("the CUDA driver sees no device");
            }
        } catch (CudaException e) {
            throw new CudaUnavailableException("the CUDA driver did not start: " + e.getMessage(), e);
        }
        return d;
    }

    // ---- status checking

    private void check(String call, int status) {
        if (status != 0) {
            throw new CudaException(call, status, errorName(status), null);
        }
    }

    /** {@code cuGetErrorName} of a status code, e.g. CUDA_ERROR_OUT_OF_MEMORY. */
    public String errorName(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) cuGetErrorName.invokeExact(status, p);
            if (r != 0) {
                return "CUDA_ERROR_" + status;
            }
            return p.get(ADDRESS, 0).reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUDA_ERROR_" + status;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    // ---- device and context

    public void init() {
        try {
            check("cuInit", (int) cuInit.invokeExact(0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDriverGetVersion", (int) cuDriverGetVersion.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", (int) cuDeviceGetCount.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(v, ordinal));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(v, 256, device));
            return v.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int attribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute", (int) cuDeviceGetAttribute.invokeExact(v, attribute, device));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long primaryContextRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(v, device));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void primaryContextRelease(int device) {
        try {
            check("cuDevicePrimaryCtxRelease_v2", (int) cuDevicePrimaryCtxRelease.invokeExact(device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void contextSetCurrent(long context) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(context));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void contextSynchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- memory

    public long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuMemAlloc_v2(" + bytes + " bytes)", (int) cuMemAlloc.invokeExact(v, bytes));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memFree(long ptr) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(ptr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    public long[] memInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG);
            MemorySegment t = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(f, t));
            return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyHostToDevice(long dst, MemorySegment src, long bytes) {
        try {
            check("cuMemcpyHtoD_v2", (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDeviceToHost(MemorySegment dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoH_v2", (int) cuMemcpyDtoH.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyHostToDeviceAsync(long dst, MemorySegment src, long bytes, long stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDeviceToHostAsync(MemorySegment dst, long src, long bytes, long stream) {
        try {
            check("cuMemcpyDtoHAsync_v2", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDeviceToDeviceAsync(long dst, long src, long bytes, long stream) {
        try {
            check("cuMemcpyDtoDAsync_v2", (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD32Async(long dst, int value, long count, long stream) {
        try {
            check("cuMemsetD32Async", (int) cuMemsetD32Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD8Async(long dst, byte value, long count, long stream) {
        try {
            check("cuMemsetD8Async", (int) cuMemsetD8Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- streams and events

    public long streamCreate(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(v, flags));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamSynchronize(long stream) {
        try {
            check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamDestroy(long stream) {
        try {
            check("cuStreamDestroy_v2", (int) cuStreamDestroy.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long eventCreate(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuEventCreate", (int) cuEventCreate.invokeExact(v, flags));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventRecord(long event, long stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventSynchronize(long event) {
        try {
            check("cuEventSynchronize", (int) cuEventSynchronize.invokeExact(event));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Milliseconds between two recorded events. */
    public float eventElapsedMillis(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime_v2", (int) cuEventElapsedTime.invokeExact(v, start, end));
            return v.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventDestroy(long event) {
        try {
            check("cuEventDestroy_v2", (int) cuEventDestroy.invokeExact(event));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- modules and launches

    public long moduleLoadData(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(v, image));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long moduleGetFunction(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuModuleGetFunction(" + name + ")",
                    (int) cuModuleGetFunction.invokeExact(v, module, a.allocateFrom(name)));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void moduleUnload(long module) {
        try {
            check("cuModuleUnload", (int) cuModuleUnload.invokeExact(module));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void functionSetAttribute(long function, int attribute, int value) {
        try {
            check("cuFuncSetAttribute", (int) cuFuncSetAttribute.invokeExact(function, attribute, value));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cuLaunchKernel}; {@code params} is the {@code void**} array of pointers to each argument. */
    public void launch(long function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, long stream,
                       MemorySegment params) {
        try {
            int r = (int) cuLaunchKernel.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, params,
                    MemorySegment.NULL);
            if (r != 0) {
                throw new CudaException("cuLaunchKernel", r, errorName(r),
                        "grid (" + gx + "," + gy + "," + gz + ") block (" + bx + "," + by + "," + bz + ") shared "
                                + sharedBytes + " bytes");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- graphs

    public void streamBeginCapture(long stream, int mode) {
        try {
            check("cuStreamBeginCapture_v2", (int) cuStreamBeginCapture.invokeExact(stream, mode));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long streamEndCapture(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuStreamEndCapture", (int) cuStreamEndCapture.invokeExact(stream, v));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long graphInstantiate(long graph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuGraphInstantiateWithFlags", (int) cuGraphInstantiateWithFlags.invokeExact(v, graph, 0L));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphLaunch(long exec, long stream) {
        try {
            check("cuGraphLaunch", (int) cuGraphLaunch.invokeExact(exec, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphExecDestroy(long exec) {
        try {
            check("cuGraphExecDestroy", (int) cuGraphExecDestroy.invokeExact(exec));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphDestroy(long graph) {
        try {
            check("cuGraphDestroy", (int) cuGraphDestroy.invokeExact(graph));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
