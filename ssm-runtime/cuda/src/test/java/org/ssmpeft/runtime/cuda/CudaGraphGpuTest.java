package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.driver.Driver;

/**
 * A stream captured into a CUDA graph and replayed: two device-to-device copies (a to b, b to c), captured, not run
 * while capturing, and replayed three times, each replay over freshly poisoned b and c.
 */
@Tag("gpu")
class CudaGraphGpuTest {

    private static final int FLOATS = 1 << 20;

    @Test
    void aCapturedPairOfCopiesReplaysThreeTimes() {
        try (CudaContext context = Gpu.openOrSkip(); DeviceArena arena = context.arena()) {
            Driver driver = context.driver();
            long stream = context.stream();
            float[] values = new float[FLOATS];
            Random r = new Random(11);
            for (int i = 0; i < FLOATS; i++) {
                values[i] = r.nextFloat();
            }
            DeviceBuffer a = arena.upload(values);
            DeviceBuffer b = arena.allocateFloats(FLOATS);
            DeviceBuffer c = arena.allocateFloats(FLOATS);
            b.fill32(Gpu.NAN32);
            c.fill32(Gpu.NAN32);
            long bytes = FLOATS * 4L;

            driver.streamBeginCapture(stream, Driver.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            long graph;
            try {
                driver.copyDeviceToDeviceAsync(b.address(), a.address(), bytes, stream);
                driver.copyDeviceToDeviceAsync(c.address(), b.address(), bytes, stream);
            } finally {
                graph = driver.streamEndCapture(stream);
            }
            try {
                long exec = driver.graphInstantiate(graph);
                try {
                    float[] before = c.toFloats();
                    assertThat(IntStream.range(0, FLOATS).filter(i -> !Float.isNaN(before[i])).count())
                            .as("elements of c written while capturing").isZero();
                    for (int launch = 0; launch < 3; launch++) {
                        b.fill32(Gpu.NAN32);
                        c.fill32(Gpu.NAN32);
                        driver.graphLaunch(exec, stream);
                        // Arrays.mismatch, not AssertJ's containsExactly: that diffs in quadratic time, minutes at 1M
                        assertThat(Arrays.mismatch(c.toFloats(), values)).as("first element of c unlike a, launch "
                                + launch).isEqualTo(-1);
                    }
                } finally {
                    driver.graphExecDestroy(exec);
                }
            } finally {
                driver.graphDestroy(graph);
            }
        }
    }
}
