/**
 * Compute backends as plugins: {@link org.ssmpeft.runtime.backend.BackendProvider} (found with ServiceLoader, chosen
 * by name through {@link org.ssmpeft.runtime.backend.Backends}) creates a
 * {@link org.ssmpeft.runtime.backend.SsmModel}: forward, recurrent step and loss with gradients, all with PEFT
 * hooks applied (resolved by {@link org.ssmpeft.runtime.plan.HookPlan}), from a family-neutral
 * {@link org.ssmpeft.runtime.backend.ModelSpec}, with a recurrent {@link org.ssmpeft.runtime.backend.SsmState} the
 * backend owns. No backend lives here: {@code ssm-backend-cpu} and {@code ssm-backend-djl} are artifacts of their own.
 */
package org.ssmpeft.runtime.backend;
