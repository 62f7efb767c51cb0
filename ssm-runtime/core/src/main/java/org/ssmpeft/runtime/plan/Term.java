package org.ssmpeft.runtime.plan;

import java.util.List;
import org.ssmpeft.api.tensor.Tensor;

/**
 * One tensor a {@link HookPlan} hands a backend: the sum (offsets, initial states, parameter deltas) or the
 * concatenation (virtual tokens, state extensions) of tensors the acting adapters' hooks handed out. The backend
 * computes with {@link #value()} and reports dL/d(value) ({@link PlanGradients#add}); the plan sends each source its
 * part ({@link HookPlan#route}). Identity matters: a backend keys its gradients by the term object.
 *
 * @param what    for messages: "state offset of layer 3"
 * @param value   the resolved values, row-major in {@code shape}; read-only for backends
 * @param shape   the term's shape
 * @param sources where the gradient goes: each a block of this term that is one adapter tensor
 */
public record Term(String what, float[] value, int[] shape, List<Source> sources) {

    /**
     * One adapter tensor inside a term: its element {@code (r, c)} (as a {@code rows × cols} matrix) is the term's
     * element {@code offset + r·stride + c}. A summand is the whole term ({@code offset 0, stride cols}); a piece of a
     * row concatenation starts at its first row; a piece of a column concatenation has the term's width as stride.
     */
    public record Source(Tensor tensor, int offset, int rows, int cols, int stride) {

        /** A source that is the whole term (a summand). */
        static Source whole(Tensor t) {
            return new Source(t, 0, 1, t.size(), t.size());
        }
    }

    public Term {
        sources = List.copyOf(sources);
    }

    /** The term of one tensor as it is (a low-rank factor): the backend reads the adapter's own values. */
    static Term of(String what, Tensor t) {
        return new Term(what, t.data(), t.shape(), List.of(Source.whole(t)));
    }

    /** The term's values as a {@link Tensor} (sharing the array). */
    public Tensor tensor() {
        return Tensor.of(value, shape);
    }

    /** Elements in the term. */
    public int size() {
        return value.length;
    }

    /** Dimension {@code i} of the shape. */
    public int dim(int i) {
        return shape[i];
    }

    @Override
    public boolean equals(Object o) {
        return this == o; // identity: a backend keys gradients by the term object
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public String toString() {
        return what + Tensor.format(shape);
    }
}
