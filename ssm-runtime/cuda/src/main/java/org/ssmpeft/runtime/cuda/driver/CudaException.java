package org.ssmpeft.runtime.cuda.driver;

/** A CUDA, NVRTC or cuBLAS call that returned an error status: the message names the call, the code and its name. */
public final class CudaException extends RuntimeException {

    private final String call;
    private final int code;

    public CudaException(String call, int code, String codeName, String detail) {
        super(call + " failed: " + codeName + " (" + code + ")" + (detail == null || detail.isBlank() ? "" : ": " + detail));
        this.call = call;
        this.code = code;
    }

    public String call() {
        return call;
    }

    public int code() {
        return code;
    }
}
