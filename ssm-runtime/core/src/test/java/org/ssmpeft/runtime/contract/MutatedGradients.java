package org.ssmpeft.runtime.contract;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * A model whose {@link #lossAndGradients} hands out deliberately wrong analytic gradients: those of the parameters
 * matching {@code parameters} of every acting adapter that feeds hook kind {@code kind} are multiplied by
 * {@code factor} (0.95: a 5% scale error; -1: a sign flip). Everything else, the loss included, is the delegate's, so
 * finite differences of the loss see the true gradient. For {@code GradientCheckMutationTest}: a gradient check that
 * passes such a model cannot see that error.
 */
public final class MutatedGradients extends ForwardingModel {

    private final HookKind kind;
    private final Predicate<String> parameters;
    private final float factor;

    public MutatedGradients(SsmModel delegate, HookKind kind, Predicate<String> parameters, float factor) {
        super(delegate);
        this.kind = kind;
        this.parameters = parameters;
        this.factor = factor;
    }

    /** The delegate's loss and gradients, the selected adapter gradients multiplied (fails if none is selected). */
    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        LossAndGradients g = inner.lossAndGradients(tokens, labels, adapters, trainableBaseNames);
        Map<String, Map<String, Tensor>> out = new LinkedHashMap<>();
        int mutated = 0;
        for (var e : g.adapterGradients().entrySet()) {
            Adapter a = adapters.get(e.getKey());
            Map<String, Tensor> grads = new LinkedHashMap<>();
            for (var p : e.getValue().entrySet()) {
                Tensor t = p.getValue();
                if (a.hooks().contains(kind) && parameters.test(p.getKey())) {
                    float[] d = t.data().clone();
                    for (int i = 0; i < d.length; i++) {
                        d[i] *= factor;
                    }
                    t = Tensor.of(d, t.shape());
                    mutated++;
                }
                grads.put(p.getKey(), t);
            }
            out.put(e.getKey(), grads);
        }
        if (mutated == 0) {
            throw new IllegalStateException("no gradient of a " + kind + " parameter matched: the mutation would be a"
                    + " no-op; adapters " + g.adapterGradients().keySet());
        }
        return new LossAndGradients(g.loss(), g.targets(), g.logits(), out, g.baseGradients());
    }
}
