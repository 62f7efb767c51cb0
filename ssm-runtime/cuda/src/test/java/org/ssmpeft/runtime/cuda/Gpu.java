package org.ssmpeft.runtime.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;

/** Device 0 for the tests tagged {@code gpu}; they skip, with the reason, where CUDA does not answer. */
final class Gpu {

    /** fp32 quiet NaN: poison for outputs, so an element a call does not write is caught. */
    static final int NAN32 = 0x7fc00000;
    /** Two bf16 quiet NaNs in one 32-bit word: {@link #NAN32} would leave every other bf16 element 0. */
    static final int NAN_BF16_PAIR = 0x7fc07fc0;

    private Gpu() {
    }

    static CudaContext openOrSkip() {
        String why = null;
        CudaContext context = null;
        try {
            context = CudaContext.open(0);
        } catch (CudaUnavailableException e) {
            why = e.getMessage();
        }
        String reason = why;
        assumeTrue(context != null, () -> reason);
        System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
        return context;
    }
}
