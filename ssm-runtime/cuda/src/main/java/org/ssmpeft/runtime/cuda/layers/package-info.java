/**
 * The layers around the selective scan on the GPU, float32, each the device twin of a cpu primitive of
 * {@code org.ssmpeft.runtime.cpu} with the same argument order (device addresses as {@code long} instead of arrays,
 * 0 for "absent"): projections through cuBLAS ({@link org.ssmpeft.runtime.cuda.layers.DeviceLinear}) and the
 * kernels of {@code kernels/layers.cu} ({@link org.ssmpeft.runtime.cuda.layers.LayerKernels}): embedding, RMSNorm,
 * causal conv1d with silu, softplus, cross-entropy, DoRA's gain, and the row copies and sums the hooks need.
 * Everything is queued on the context's stream; sums are deterministic (fixed order, no floating-point atomics).
 */
package org.ssmpeft.runtime.cuda.layers;
