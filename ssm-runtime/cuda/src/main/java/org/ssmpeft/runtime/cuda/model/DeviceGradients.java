package org.ssmpeft.runtime.cuda.model;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.plan.PlanGradients;
import org.ssmpeft.runtime.plan.Term;

/**
 * The gradients of one backward on the device (the device twin of the cpu's {@code ModelParts.Grads}): one zeroed
 * region holding dL/d(term) for every term of the plan and dL/dθ for every base parameter that needs one (the
 * trainable ones and those a parameter delta acts on), every buffer accumulating (+=). {@link #toHost} brings the
 * whole region back in one copy, into the {@link PlanGradients} the plan routes to the adapters.
 */
final class DeviceGradients {

    private static final int ALIGN = 64; // floats: 256-byte aligned buffers, as allocations of their own

    private final Map<Term, Long> terms = new IdentityHashMap<>();
    private final Map<String, Long> base = new LinkedHashMap<>();
    private final Map<String, Integer> baseSizes = new LinkedHashMap<>();
    private final Map<Term, Long> termOffsets = new LinkedHashMap<>();
    private final Map<String, Long> baseOffsets = new LinkedHashMap<>();
    private final long region;
    private final long floats;

    /** @param named every base parameter by Hugging Face name; @param wanted those that get a gradient */
    DeviceGradients(DeviceMemory memory, DeviceMemory.Arena call, List<Term> planTerms, Map<String, Tensor> named,
                    Set<String> wanted) {
        long at = 0;
        for (Term t : planTerms) {
            if (!termOffsets.containsKey(t)) {
                termOffsets.put(t, at);
                at += footprint(t.size());
            }
        }
        for (String n : wanted) {
            int size = named.get(n).size();
            baseSizes.put(n, size);
            baseOffsets.put(n, at);
            at += footprint(size);
        }
        this.floats = Math.max(ALIGN, at);
        this.region = call.floats(floats);
        memory.zero(region, floats);
        termOffsets.forEach((t, o) -> terms.put(t, region + 4L * o));
        baseOffsets.forEach((n, o) -> base.put(n, region + 4L * o));
    }

    private static long footprint(long n) {
        return Math.max(ALIGN, (n + ALIGN - 1) / ALIGN * ALIGN);
    }

    /** The gradient buffer of a base parameter, or 0 when it is frozen. */
    long base(String name) {
        Long at = base.get(name);
        return at == null ? 0 : at;
    }

    /** The gradient buffer of a plan term (size of the term). */
    long term(Term t) {
        Long at = terms.get(t);
        if (at == null) {
            throw new IllegalStateException("term " + t + " has no gradient buffer in this backward");
        }
        return at;
    }

    /** Every buffer, copied to the host in one transfer. */
    PlanGradients toHost(DeviceMemory memory) {
        float[] all = memory.download(region, floats);
        var g = new PlanGradients();
        termOffsets.forEach((t, o) -> g.add(t, all, Math.toIntExact(o)));
        baseOffsets.forEach((n, o) -> {
            int size = baseSizes.get(n);
            float[] grad = new float[size];
            System.arraycopy(all, Math.toIntExact(o), grad, 0, size);
            g.putBase(n, grad);
        });
        return g;
    }
}
