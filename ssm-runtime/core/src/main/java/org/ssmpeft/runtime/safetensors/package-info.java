/**
 * The safetensors format: a validating, memory-mapped reader ({@link org.ssmpeft.runtime.safetensors.SafetensorsFile})
 * and an atomic writer ({@link org.ssmpeft.runtime.safetensors.SafetensorsWriter}); every failure is a
 * {@link org.ssmpeft.runtime.safetensors.SafetensorsException} naming the file, the tensor and the rule.
 */
package org.ssmpeft.runtime.safetensors;
