/**
 * The hook plan: what the acting adapters of an {@code AdapterSet} do to one model, resolved once and
 * backend-neutrally ({@link org.ssmpeft.runtime.plan.HookPlan}), the tensors a backend computes with
 * ({@link org.ssmpeft.runtime.plan.Term}) and the gradients it hands back
 * ({@link org.ssmpeft.runtime.plan.PlanGradients}), routed to each adapter's parameters by the plan.
 */
package org.ssmpeft.runtime.plan;
