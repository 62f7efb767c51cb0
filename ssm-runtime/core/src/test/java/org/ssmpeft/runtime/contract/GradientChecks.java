package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * The gradient check the backend and method contracts share: an adapter's analytic gradients on a model against
 * finite differences of the model's own loss.
 */
public final class GradientChecks {

    static final double FD_REL = 1e-2;
    static final double FD_ABS = 1e-4;

    private GradientChecks() {
    }

    /** Fails naming the tensor when {@code adapter}'s gradients on {@code model} do not pass. */
    public static void assertPasses(SsmModel model, AdapterSet set, Adapter adapter, int[][] tokens, int[][] labels,
                                    String what) {
        Map<String, Tensor> analytic = model.lossAndGradients(tokens, labels, set, Set.of()).adapterGradients()
                .get(adapter.name());
        double floor = FD_ABS * Math.max(1, Math.abs(model.loss(tokens, labels, set)));
        GradientCheck.Result r = GradientCheck.of(() -> model.loss(tokens, labels, set)).samples(3, 7)
                .check(adapter.parameters(), analytic);
        for (var t : r.tensors()) {
            assertThat(t.within(FD_REL, floor)).as("%s: %s", what, t).isTrue();
        }
    }
}
