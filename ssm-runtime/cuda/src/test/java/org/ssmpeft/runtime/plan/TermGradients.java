package org.ssmpeft.runtime.plan;

/**
 * A term's gradient as a backend reported it into {@link PlanGradients}, opened to the cuda module's tests (same
 * package on the class path): the cpu reference reports the prompt's and DoRA's magnitude gradients only there.
 */
public final class TermGradients {

    private TermGradients() {
    }

    /** dL/d(term) accumulated in {@code g}, or an array of zeros when nothing was added for it. */
    public static float[] of(PlanGradients g, Term term) {
        float[] grad = g.terms().get(term);
        return grad == null ? new float[term.size()] : grad.clone();
    }
}
