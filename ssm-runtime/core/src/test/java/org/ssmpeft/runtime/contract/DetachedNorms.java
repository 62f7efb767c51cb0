package org.ssmpeft.runtime.contract;

import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.plan.HookPlan;

/**
 * The loss whose gradient a DoRA backward computes. DoRA's row norms n = ||W + s·B·A||_c are constants of the
 * backward (PEFT detaches them, DoRA §4.3), so dL/dA and dL/dB are not the derivatives of the loss itself: they are
 * those of the loss with n held at its value n₀ at the check's centre. That loss is the ordinary one with each
 * magnitude m replaced by m ⊙ n(A, B) / n₀, which the forward's m / n(A, B) turns back into m / n₀; the magnitudes
 * are restored after each evaluation. Without DoRA deltas it is the ordinary loss.
 */
final class DetachedNorms {

    private DetachedNorms() {
    }

    /** One DoRA delta: its tensors, the weight rows it re-normalises, and n₀. */
    private record Held(LowRankDelta delta, float[] weight, int in, float[] norm0) {
        float[] norm() {
            return HookPlan.rowNorms(weight, in, delta.rowOffset(), delta.b().dim(0), delta.b().data(),
                    delta.a().data(), delta.scaling());
        }
    }

    static DoubleSupplier lossWithNormsHeld(SsmModel model, int[][] tokens, int[][] labels, AdapterSet set) {
        model.forward(tokens, set); // sets magnitudes that start at the base norms (Initializer.BaseRowNorm)
        List<Held> held = new ArrayList<>();
        ModelShape s = model.shape();
        for (Adapter a : set.acting()) {
            if (!(a instanceof ProjectionHook hook)) {
                continue;
            }
            for (Projection p : Projection.values()) {
                if (!p.existsIn(s.family())) {
                    continue;
                }
                for (int l = p.isPerLayer() ? 0 : -1; l < (p.isPerLayer() ? s.layers() : 0); l++) {
                    int layer = l;
                    hook.delta(l, p).filter(d -> d.magnitude().isPresent()).ifPresent(d -> {
                        Tensor w = model.spec().parameters().get(HookPlan.weightName(model.spec(), p, layer));
                        var h = new Held(d, w.data(), w.dim(1), null);
                        held.add(new Held(d, w.data(), w.dim(1), h.norm()));
                    });
                }
            }
        }
        if (held.isEmpty()) {
            return () -> model.loss(tokens, labels, set);
        }
        return () -> {
            List<float[]> saved = new ArrayList<>();
            for (Held h : held) {
                float[] m = h.delta().magnitude().orElseThrow().data();
                saved.add(m.clone());
                float[] n = h.norm();
                for (int j = 0; j < m.length; j++) {
                    m[j] = m[j] * n[j] / h.norm0()[j];
                }
            }
            try {
                return model.loss(tokens, labels, set);
            } finally {
                for (int i = 0; i < held.size(); i++) {
                    float[] m = held.get(i).delta().magnitude().orElseThrow().data();
                    System.arraycopy(saved.get(i), 0, m, 0, m.length);
                }
            }
        };
    }
}
