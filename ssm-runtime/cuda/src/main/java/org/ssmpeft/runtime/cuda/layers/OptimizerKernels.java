package org.ssmpeft.runtime.cuda.layers;

import java.util.List;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaModule;

/**
 * Launches the kernels of {@code kernels/optimizer.cu}: a training step's gradient accumulation, global norm and
 * AdamW update over the trainable tensors of a run kept on the device, each the device twin of a host class of
 * {@code org.ssmpeft.runtime.train} ({@code GradientAccumulator}, {@code GradientClipping}, {@code AdamW}). The
 * trainable tensors are segments of flat float32 buffers; a segment table of int32 quadruples
 * {@code (offset, length, stepSize bits, keep bits)} ({@link #SEGMENT_INTS} per segment) says where each lies and
 * its step's factors. Sums are float64 buffers (8 bytes an element). Arguments are checked before anything is
 * queued; nothing is queued for nothing to do. Not thread-safe, like the stream it queues on.
 */
public final class OptimizerKernels {

    /** Every entry point of {@code optimizer.cu} (the CI compile test checks that each one compiles). */
    public static final List<String> ENTRY_POINTS = List.of("accumulate_gradient", "finish_gradient",
            "segment_sum_squares", "adamw_step");

    /** Ints per segment of the table. */
    public static final int SEGMENT_INTS = 4;

    /** Threads per block of {@code segment_sum_squares} (NORM_THREADS in the kernel file: its reduction order). */
    public static final int NORM_THREADS = 256;

    private static final int THREADS = 256;
    private static final int MAX_BLOCKS = 1 << 20;
    private static final int MAX_SEGMENT_BLOCKS = 1024;

    private final CudaModule module;

    public OptimizerKernels(CudaContext context) {
        this.module = context.module("optimizer.cu", options());
    }

    /** NVRTC options of {@code optimizer.cu} (the CI compile test uses the same): products and sums round apart. */
    public static List<String> options() {
        return List.of("--fmad=false");
    }

    private static int blocks(long n) {
        return (int) Math.min(MAX_BLOCKS, (n + THREADS - 1) / THREADS);
    }

    private static void check(String call, long n, long... addresses) {
        if (n < 0) {
            throw new IllegalArgumentException(call + ": n = " + n + " is negative");
        }
        for (long a : addresses) {
            if (a == 0) {
                throw new IllegalArgumentException(call + ": a required buffer is absent (device address 0 given)");
            }
        }
    }

    /** sum (n doubles) += weight · g (n floats), in double; *firstBad (int32) = min(it, first non-finite index). */
    public void accumulateGradient(long sum, long g, double weight, long n, long firstBad) {
        check("accumulateGradient", n, sum, g, firstBad);
        if (n > 0) {
            module.kernel("accumulate_gradient").launch(blocks(n), 1, 1, THREADS, 0, sum, g, weight, n, firstBad);
        }
    }

    /** g (n floats) = (float) (sum / targets), 0 where targets is 0. */
    public void finishGradient(long g, long sum, double targets, long n) {
        check("finishGradient", n, sum, g);
        if (n > 0) {
            module.kernel("finish_gradient").launch(blocks(n), 1, 1, THREADS, 0, g, sum, targets, n);
        }
    }

    /** out[s] (doubles) = Σ g² over segment s of {@code table}, for each of {@code segments}. */
    public void segmentSumSquares(long out, long g, long table, int segments) {
        check("segmentSumSquares", segments, out, g, table);
        if (segments > 0) {
            module.kernel("segment_sum_squares").launch(segments, 1, 1, NORM_THREADS, 0, out, g, table);
        }
    }

    /**
     * One AdamW update of every segment of {@code table} (the longest {@code maxLength} elements), the gradient
     * scaled by {@code coef} first (written back: the clipped gradient); *firstBad = min(it, first non-finite θ).
     */
    public void adamwStep(long theta, long m, long v, long g, long table, int segments, long maxLength, float coef,
                          float oneMinusBeta1, float beta2, float oneMinusBeta2, float bias2Sqrt, float eps,
                          long firstBad) {
        check("adamwStep", segments, theta, m, v, g, table, firstBad);
        if (segments > 65535) {
            throw new IllegalArgumentException("adamwStep: " + segments + " segments; one launch takes at most 65535");
        }
        if (segments > 0 && maxLength > 0) {
            int bx = (int) Math.min(MAX_SEGMENT_BLOCKS, (maxLength + THREADS - 1) / THREADS);
            module.kernel("adamw_step").launch(bx, segments, 1, THREADS, 0, theta, m, v, g, table, coef,
                    oneMinusBeta1, beta2, oneMinusBeta2, bias2Sqrt, eps, firstBad);
        }
    }
}
