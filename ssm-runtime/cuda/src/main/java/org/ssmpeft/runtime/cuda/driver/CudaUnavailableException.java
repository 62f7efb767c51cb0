package org.ssmpeft.runtime.cuda.driver;

/** The CUDA stack cannot be used here (no library, no device, a driver too old); the message says why and where it looked. */
public final class CudaUnavailableException extends Exception {

    public CudaUnavailableException(String reason) {
        super(reason);
    }

    public CudaUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
