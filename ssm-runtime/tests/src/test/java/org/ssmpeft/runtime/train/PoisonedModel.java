package org.ssmpeft.runtime.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.contract.ForwardingModel;

/** A model that computes like another but returns a NaN/Inf at its n-th {@code lossAndGradients} call. */
final class PoisonedModel extends ForwardingModel {

    private final int call;
    private final String adapter;
    private final String parameter;
    private final int element;
    private final float gradient;
    private final double loss;
    private int calls;

    private PoisonedModel(SsmModel inner, int call, String adapter, String parameter, int element, float gradient,
                          double loss) {
        super(inner);
        this.call = call;
        this.adapter = adapter;
        this.parameter = parameter;
        this.element = element;
        this.gradient = gradient;
        this.loss = loss;
    }

    /** Call {@code call} (1-based) returns {@code value} at {@code element} of one adapter parameter's gradient. */
    static PoisonedModel gradient(SsmModel inner, int call, String adapter, String parameter, int element,
                                  float value) {
        return new PoisonedModel(inner, call, adapter, parameter, element, value, Double.NaN);
    }

    /** Call {@code call} returns {@code value} as the loss. */
    static PoisonedModel loss(SsmModel inner, int call, double value) {
        return new PoisonedModel(inner, call, null, null, 0, 0, value);
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        LossAndGradients g = inner.lossAndGradients(tokens, labels, adapters, trainableBaseNames);
        if (++calls != call) {
            return g;
        }
        if (adapter == null) {
            return new LossAndGradients(loss, g.targets(), g.logits(), g.adapterGradients(), g.baseGradients());
        }
        Map<String, Map<String, Tensor>> grads = new LinkedHashMap<>();
        g.adapterGradients().forEach((a, m) -> grads.put(a, new LinkedHashMap<>(m)));
        Tensor t = g.adapterGradient(adapter, parameter).copy();
        t.data()[element] = gradient;
        grads.get(adapter).put(parameter, t);
        return new LossAndGradients(g.loss(), g.targets(), g.logits(), grads, g.baseGradients());
    }
}
