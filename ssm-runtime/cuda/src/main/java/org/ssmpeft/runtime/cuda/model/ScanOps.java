package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;

/**
 * The fused selective scan in float32 as the model calls it: {@link SelectiveScanKernels}'s forward (state and
 * extra state in/out, tile checkpoints for training), backward (recomputing from the checkpoints) and single step,
 * with their workspace sizes; see that class and {@code kernels/selective_scan.cu} for the formulas. On the GPU it
 * is SelectiveScanKernels ({@link CudaDevice}); the package's tests also run the model on a host emulation.
 */
interface ScanOps {

    /** Floats of the training forward's checkpoints for shape s. */
    long checkpointFloats(ScanShape s);

    /** Floats of the backward's workspace for shape s. */
    long workFloats(ScanShape s);

    void forward(ScanShape s, ScanOperands o, long state, long extState, long checkpoints, long y);

    void backward(ScanShape s, ScanOperands o, long checkpoints, long dy, SelectiveScanKernels.Gradients g,
                  long work);

    void step(ScanShape s, ScanOperands o, long state, long extState, long y);

    /**
     * The fused decode path's step: Δ = softplus(dt_proj(dt_low)) formed in the launch from the operands' bc
     * ([dt_low | B | C]) and written to their dt, then {@link #step}'s update; see
     * {@link SelectiveScanKernels#stepDelta}.
     */
    void stepDelta(ScanShape s, ScanOperands o, long dtWeight, long dtBias, int rank, long state, long extState,
                   long y);
}
