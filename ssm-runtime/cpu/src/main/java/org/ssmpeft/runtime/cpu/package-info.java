/**
 * The CPU backend: the Mamba-1 model in float32 ({@link org.ssmpeft.runtime.cpu.CpuMamba}) on the recurrent cache
 * every backend shares ({@link org.ssmpeft.runtime.backend.SsmState}), every PEFT hook of an {@code AdapterSet}
 * resolved per call by {@code HookPlan}, and a hand-derived backward. Kernels are package-private, one class each,
 * forward and backward side by side with the tensor shapes on one comment line, llm.c style: Linear, RmsNorm,
 * CausalConv1d, SelectiveScan, CrossEntropy. Registered as the {@code cpu} backend by
 * {@link org.ssmpeft.runtime.cpu.CpuBackendProvider}.
 */
package org.ssmpeft.runtime.cpu;
