package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;

import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.testing.GradientCheck;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;

/**
 * The gradient check the backend contract shares with the method contract: the very check of
 * {@link MethodNumericContract#checkGradientsOf} (directional central differences along g/|g| and random directions,
 * jointly and per tensor, tolerance relative to |g||v|), whose power {@code GradientCheckMutationTest} proves.
 */
public final class GradientChecks {

    private GradientChecks() {
    }

    /** Fails listing the checks that do not pass when {@code adapter}'s gradients on {@code model} are wrong. */
    public static void assertPasses(SsmModel model, ModelCase m, AdapterSet set, Adapter adapter, String what) {
        assertPasses(model, m.tokens(), m.labels(), set, adapter, what);
    }

    /** {@link #assertPasses(SsmModel, ModelCase, AdapterSet, Adapter, String)} on a batch of either family's model. */
    public static void assertPasses(SsmModel model, int[][] tokens, int[][] labels, AdapterSet set, Adapter adapter,
                                    String what) {
        GradientCheck.DirectionalResult r = MethodNumericContract.checkGradientsOf(model, tokens, labels, set, adapter,
                MethodNumericContract.defaultRandomDirections(model.backend(), false),
                GradientCheck.DEFAULT_LOSS_NOISE);
        assertThat(MethodNumericContract.gradientProblems(r)).as("%s: gradient check%n%s", what, r).isEmpty();
    }
}
