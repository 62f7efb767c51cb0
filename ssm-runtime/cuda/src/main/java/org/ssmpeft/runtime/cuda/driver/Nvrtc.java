package org.ssmpeft.runtime.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * NVRTC, CUDA's run-time compiler ({@code libnvrtc.so.13}), through {@code java.lang.foreign}: CUDA C++ source to a
 * CUBIN for one architecture. It needs no GPU and no driver, so kernels compile (and are checked) on any machine
 * that has the library, e.g. from the {@code nvidia-cuda-nvrtc} Python wheel.
 */
public final class Nvrtc {

    /** A successful compile: the CUBIN image and the compiler's log (warnings, and the ptxas report when asked for). */
    public record Compiled(byte[] cubin, String log) {
    }

    private final MethodHandle nvrtcVersion, nvrtcGetErrorString, nvrtcCreateProgram, nvrtcCompileProgram,
            nvrtcGetProgramLogSize, nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcDestroyProgram;
    private final int version;

    private Nvrtc(Downcalls d) throws CudaUnavailableException {
        nvrtcVersion = d.status("nvrtcVersion", ADDRESS, ADDRESS);
        nvrtcGetErrorString = d.handle("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        nvrtcCreateProgram = d.status("nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        nvrtcCompileProgram = d.status("nvrtcCompileProgram", JAVA_LONG, JAVA_INT, ADDRESS);
        nvrtcGetProgramLogSize = d.status("nvrtcGetProgramLogSize", JAVA_LONG, ADDRESS);
        nvrtcGetProgramLog = d.status("nvrtcGetProgramLog", JAVA_LONG, ADDRESS);
        nvrtcGetCUBINSize = d.status("nvrtcGetCUBINSize", JAVA_LONG, ADDRESS);
        nvrtcGetCUBIN = d.status("nvrtcGetCUBIN", JAVA_LONG, ADDRESS);
        nvrtcDestroyProgram = d.status("nvrtcDestroyProgram", ADDRESS);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT);
            MemorySegment minor = a.allocate(JAVA_INT);
            check("nvrtcVersion", (int) nvrtcVersion.invokeExact(major, minor));
            version = major.get(JAVA_INT, 0) * 1000 + minor.get(JAVA_INT, 0) * 10;
        } catch (CudaException e) {
            throw new CudaUnavailableException("NVRTC did not answer: " + e.getMessage(), e);
        } catch (Throwable t) {
            throw new CudaUnavailableException("NVRTC did not answer: " + t, t);
        }
    }

    /** Loads NVRTC 13 (and its builtins library from the same folder). */
    public static Nvrtc load() throws CudaUnavailableException {
        var lib = NativeLibraries.load("NVRTC", List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"),
                List.of("libnvrtc-builtins.so.13.0", "libnvrtc-builtins.so.13.1", "libnvrtc-builtins.so.13.2",
                        "libnvrtc-builtins.so"));
        return new Nvrtc(new Downcalls(lib, "libnvrtc"));
    }

    /** NVRTC's version as CUDA writes it: 13000 for 13.0. */
    public int version() {
        return version;
    }

    private String errorString(int status) {
        try {
            MemorySegment s = (MemorySegment) nvrtcGetErrorString.invokeExact(status);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "NVRTC_ERROR_" + status;
        }
    }

    private void check(String call, int status) {
        if (status != 0) {
            throw new CudaException(call, status, errorString(status), null);
        }
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) with {@code options}, e.g.
     * {@code --gpu-architecture=sm_90}. A compile error throws a {@link CudaException} that carries the log.
     */
    public Compiled compile(String source, String name, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progOut = a.allocate(JAVA_LONG);
            check("nvrtcCreateProgram(" + name + ")", (int) nvrtcCreateProgram.invokeExact(progOut,
                    a.allocateFrom(source), a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL));
            long prog = progOut.get(JAVA_LONG, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) {
                    opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                }
                int status = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), opts);
                String log = log(a, prog);
                if (status != 0) {
                    throw new CudaException("nvrtcCompileProgram(" + name + ", " + String.join(" ", options) + ")",
                            status, errorString(status), "\n" + log);
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                check("nvrtcGetCUBINSize", (int) nvrtcGetCUBINSize.invokeExact(prog, size));
                MemorySegment cubin = a.allocate(size.get(JAVA_LONG, 0));
                check("nvrtcGetCUBIN", (int) nvrtcGetCUBIN.invokeExact(prog, cubin));
                return new Compiled(cubin.toArray(JAVA_BYTE), log);
            } finally {
                MemorySegment p = a.allocate(JAVA_LONG);
                p.set(JAVA_LONG, 0, prog);
                int ignored = (int) nvrtcDestroyProgram.invokeExact(p);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private String log(Arena a, long prog) throws Throwable {
        MemorySegment size = a.allocate(JAVA_LONG);
        check("nvrtcGetProgramLogSize", (int) nvrtcGetProgramLogSize.invokeExact(prog, size));
        long n = size.get(JAVA_LONG, 0);
        if (n <= 1) {
            return "";
        }
        MemorySegment buf = a.allocate(n);
        check("nvrtcGetProgramLog", (int) nvrtcGetProgramLog.invokeExact(prog, buf));
        return buf.getString(0).strip();
    }
}
