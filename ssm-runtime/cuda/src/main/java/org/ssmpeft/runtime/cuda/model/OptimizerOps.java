package org.ssmpeft.runtime.cuda.model;

/**
 * The optimiser step's operations as {@link CudaTrainingSession} uses them, queued on the device's stream: on a GPU
 * {@code OptimizerKernels} ({@code optimizer.cu}; its javadoc is the contract), in the tests a host emulation. Sums
 * are float64 buffers (two floats of room an element); the segment table holds int32 quadruples
 * {@code (offset, length, stepSize bits, keep bits)}; {@code firstBad} is one int32.
 */
interface OptimizerOps {

    /** sum (n doubles) += weight · g (n floats), in double; *firstBad = min(it, first non-finite index of g). */
    void accumulateGradient(long sum, long g, double weight, long n, long firstBad);

    /** g (n floats) = (float) (sum / targets), 0 where targets is 0. */
    void finishGradient(long g, long sum, double targets, long n);

    /** out[s] (doubles) = Σ g² over segment s of the table, in the kernel's fixed reduction order. */
    void segmentSumSquares(long out, long g, long table, int segments);

    /** AdamW over every segment in one launch, g scaled by coef first; *firstBad = min(it, first non-finite θ). */
    void adamwStep(long theta, long m, long v, long g, long table, int segments, long maxLength, float coef,
                   float oneMinusBeta1, float beta2, float oneMinusBeta2, float bias2Sqrt, float eps, long firstBad);
}
