/**
 * The DJL reference backend: the Mamba-1 and Mamba-2 models written with DJL NDArray operations on DJL's PyTorch engine (float32,
 * CPU, offline from the native classifier jar), every PEFT hook applied as plain NDArray code and gradients by DJL
 * autograd ({@link org.ssmpeft.runtime.djl.DjlMamba}). Other backends are checked against it; a plugin author can
 * try a new hook kind here with no backward pass ({@link org.ssmpeft.runtime.djl.DjlHook}).
 *
 * <p>Running it needs {@code ai.djl.pytorch:pytorch-native-cpu:2.7.1:linux-x86_64} on the class path; ssm-backend-djl
 * declares it optional, so whoever adds the backend chooses to download it. {@link
 * org.ssmpeft.runtime.djl.DjlEngine#isAvailable()} says whether the engine loads.
 */
package org.ssmpeft.runtime.djl;
