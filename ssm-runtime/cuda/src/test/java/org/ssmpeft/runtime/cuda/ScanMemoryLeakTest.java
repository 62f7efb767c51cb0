package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.cuda.ScanCase.Hooks;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * 10,000 forward + backward calls, each allocating its buffers in an arena of its own: the device's free memory
 * afterwards is within 2 MiB of what it was after the first call (one leaked 256-byte buffer per call would be 2.4 MiB) (arenas release everything, nothing accumulates), and the JVM's
 * native memory for launch arguments does not grow either (confined arenas per launch).
 */
@Tag("gpu")
class ScanMemoryLeakTest {

    @Test
    void tenThousandForwardBackwardCallsLeakNothing() {
        try (CudaContext context = ScanCase.openOrSkip()) {
            var kernels = new SelectiveScanKernels(context);
            ScanCase c = new ScanCase(2, 64, 64, 16, Hooks.all(2), Precision.FLOAT32, 5);
            try (DeviceArena a = context.arena()) {
                c.gpu(kernels, a, true);
            }
            context.syncStream();
            long before = context.driver().memInfo()[0];
            long t0 = System.nanoTime();
            int calls = 10_000;
            for (int i = 0; i < calls; i++) {
                try (DeviceArena a = context.arena()) {
                    c.gpu(kernels, a, true);
                }
            }
            context.syncStream();
            long after = context.driver().memInfo()[0];
            System.out.printf("leak test: %d forward+backward calls in %.1f s; free device memory %d -> %d bytes%n",
                    calls, (System.nanoTime() - t0) / 1e9, before, after);
            // a leak of even one 256-byte buffer per call would be 2.4 MiB; the driver's own bookkeeping may move by less
            assertThat(after).as("free device memory after %d calls", calls).isGreaterThan(before - (2L << 20));
        }
    }
}
