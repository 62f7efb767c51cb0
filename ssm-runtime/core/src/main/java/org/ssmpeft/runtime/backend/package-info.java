/**
 * Compute backends as plugins: {@link org.ssmpeft.runtime.backend.BackendProvider} (found with ServiceLoader, chosen
 * by name through {@link org.ssmpeft.runtime.backend.Backends}) creates a
 * {@link org.ssmpeft.runtime.backend.SsmModel}: forward, recurrent step and loss with gradients, all with PEFT
 * hooks applied. The {@code cpu} backend is built in.
 */
package org.ssmpeft.runtime.backend;
