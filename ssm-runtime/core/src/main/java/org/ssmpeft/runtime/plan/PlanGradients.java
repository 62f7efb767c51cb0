package org.ssmpeft.runtime.plan;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The gradients a backend computed in one backward: dL/d(term) for the plan's {@link Term}s, dL/dθ for base
 * parameters by Hugging Face name (the trainable ones and those a parameter delta acts on), and, for backend-only
 * hooks that read adapter tensors directly (djl's {@code DjlHook}), dL/d(tensor). Buffers accumulate: a backend may
 * add a term's gradient in several pieces.
 */
public final class PlanGradients {

    private final Map<Term, float[]> terms = new LinkedHashMap<>();
    private final Map<String, float[]> base = new LinkedHashMap<>();
    private final IdentityHashMap<Tensor, float[]> direct = new IdentityHashMap<>();

    /** term's gradient += g[from .. from + term.size()). */
    public void add(Term term, float[] g, int from) {
        float[] acc = terms.computeIfAbsent(term, k -> new float[k.size()]);
        for (int i = 0; i < acc.length; i++) {
            acc[i] += g[from + i];
        }
    }

    /** term's gradient += g (of the term's size). */
    public void add(Term term, float[] g) {
        add(term, g, 0);
    }

    /** The accumulating gradient buffer of a base parameter, allocated on first use with {@code size} elements. */
    public float[] base(String name, int size) {
        return base.computeIfAbsent(name, k -> new float[size]);
    }

    /** The gradient buffer of a base parameter, or null when none was requested or computed. */
    public float[] baseOrNull(String name) {
        return base.get(name);
    }

    /** A base parameter's gradient, set whole (a backend that computes it in one piece). */
    public void putBase(String name, float[] g) {
        base.put(name, g);
    }

    /** dL/d(tensor) for an adapter tensor a backend-only hook read directly. */
    public void addDirect(Tensor tensor, float[] g) {
        float[] acc = direct.computeIfAbsent(tensor, k -> new float[k.size()]);
        for (int i = 0; i < acc.length; i++) {
            acc[i] += g[i];
        }
    }

    Map<Term, float[]> terms() {
        return terms;
    }

    IdentityHashMap<Tensor, float[]> direct() {
        return direct;
    }
}
