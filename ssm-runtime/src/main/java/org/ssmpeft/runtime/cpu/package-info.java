/**
 * The CPU backend: the Mamba-1 forward pass in float32 ({@link org.ssmpeft.runtime.cpu.CpuMamba}) with its recurrent
 * cache ({@link org.ssmpeft.runtime.cpu.MambaCache}). Kernels are package-private, one class each, with the tensor
 * shapes on one comment line, llm.c style: Linear, RmsNorm, CausalConv1d, SelectiveScan.
 */
package org.ssmpeft.runtime.cpu;
