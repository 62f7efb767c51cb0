package com.example.lowrank;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The adapter: its parameters are the factors U (D, r) and V (r, N) of each selected layer; its hook hands out the
 * derived h' = U·V, of the state's shape ((D, N), or (H, P, N) on Mamba-2 with H·P = D, the same row-major
 * elements). Backends call {@link #refreshDerived()} before a forward and map the gradient of h' back to U and V with
 * {@link #parameterGradients}.
 */
final class LowRankStateOffset extends Adapter implements StateOffsetHook {

    private final int d;
    private final int n;
    private final int r;
    /** h' per selected layer; the tensor objects stay the same, their values follow U and V. */
    private final Map<Integer, Tensor> offsets = new LinkedHashMap<>();

    LowRankStateOffset(AdapterContext<LowRankStateOffsetConfig> context, List<ParameterSpec> specs) {
        super(context, specs);
        this.d = context.shape().dInner();
        this.n = context.shape().dState();
        this.r = context.config().rank();
        for (int l : context.layerIndices()) {
            offsets.put(l, Tensor.zeros(context.shape().stateShape()));
        }
        refreshDerived();
    }

    @Override
    public Optional<Tensor> stateOffset(int layer) {
        return Optional.ofNullable(offsets.get(layer));
    }

    /** h'[i, j] = Σ_k U[i, k]·V[k, j], accumulated in double. */
    @Override
    public void refreshDerived() {
        offsets.forEach((layer, h) -> {
            float[] u = u(layer).data();
            float[] v = v(layer).data();
            float[] out = h.data();
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < r; k++) {
                        s += (double) u[i * r + k] * v[k * n + j];
                    }
                    out[i * n + j] = (float) s;
                }
            }
        });
    }

    /** With G = dL/dh' (D, N): dU = G·Vᵀ (D, r), dV = Uᵀ·G (r, N); zeros for a layer whose h' got no gradient. */
    @Override
    public Map<String, Tensor> parameterGradients(IdentityHashMap<Tensor, Tensor> hookGradients) {
        Map<String, Tensor> grads = new LinkedHashMap<>();
        offsets.forEach((layer, h) -> {
            Tensor du = Tensor.zeros(d, r);
            Tensor dv = Tensor.zeros(r, n);
            Tensor g = hookGradients.get(h);
            if (g != null) {
                float[] gd = g.data();
                float[] u = u(layer).data();
                float[] v = v(layer).data();
                for (int i = 0; i < d; i++) {
                    for (int k = 0; k < r; k++) {
                        double s = 0;
                        for (int j = 0; j < n; j++) {
                            s += (double) gd[i * n + j] * v[k * n + j];
                        }
                        du.data()[i * r + k] = (float) s;
                    }
                }
                for (int k = 0; k < r; k++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int i = 0; i < d; i++) {
                            s += (double) u[i * r + k] * gd[i * n + j];
                        }
                        dv.data()[k * n + j] = (float) s;
                    }
                }
            }
            grads.put("layers." + layer + "." + LowRankStateOffsetProvider.U, du);
            grads.put("layers." + layer + "." + LowRankStateOffsetProvider.V, dv);
        });
        return grads;
    }

    private Tensor u(int layer) {
        return parameter("layers." + layer + "." + LowRankStateOffsetProvider.U);
    }

    private Tensor v(int layer) {
        return parameter("layers." + layer + "." + LowRankStateOffsetProvider.V);
    }
}
