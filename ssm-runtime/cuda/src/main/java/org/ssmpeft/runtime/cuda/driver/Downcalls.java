package org.ssmpeft.runtime.cuda.driver;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Downcall handles of one native library. Every CUDA entry point returns a status code ({@code int}); opaque
 * handles (contexts, streams, functions, device pointers) travel as 64-bit integers, which is how the 64-bit
 * platforms CUDA supports pass a pointer, so each call is an {@code invokeExact} on primitive types.
 */
final class Downcalls {

    private final SymbolLookup library;
    private final String libraryName;

    Downcalls(SymbolLookup library, String libraryName) {
        this.library = library;
        this.libraryName = libraryName;
    }

    /** A function returning a status code. A missing symbol means the library is older than this binding. */
    MethodHandle status(String name, MemoryLayout... args) throws CudaUnavailableException {
        return handle(name, FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, args));
    }

    /** The first of {@code names} the library exports (newer versioned entry point first). */
    MethodHandle statusFirst(java.util.List<String> names, MemoryLayout... args) throws CudaUnavailableException {
        for (String name : names) {
            if (library.find(name).isPresent()) {
                return status(name, args);
            }
        }
        throw new CudaUnavailableException(libraryName + " has none of " + names + ": it is older than this binding needs");
    }

    MethodHandle handle(String name, FunctionDescriptor descriptor) throws CudaUnavailableException {
        var symbol = library.find(name).orElseThrow(() -> new CudaUnavailableException(
                libraryName + " has no " + name + ": it is older than this binding needs"));
        return Linker.nativeLinker().downcallHandle(symbol, descriptor);
    }
}
