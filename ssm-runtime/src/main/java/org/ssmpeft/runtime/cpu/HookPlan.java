package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.hooks.InitialStateHook;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.OutputOffsetHook;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.hooks.StateExtensionHook;
import org.ssmpeft.api.hooks.StateOffsetHook;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.ParameterDeltaNames;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The hooks of the acting adapters of an {@link AdapterSet}, resolved for one call against one model: contributions
 * to the same hook summed (offsets, initial states, parameter deltas) or concatenated in stack order (virtual tokens),
 * low-rank deltas listed per weight, and the effective weights {@code θ_base + Σ Δθ}. Each summed value remembers the
 * tensors it came from, so the backward can hand every one of them the gradient of the sum.
 *
 * State extensions are concatenated per layer in stack order (N + n'_1 + n'_2 ... state dimensions per channel).
 *
 * <p>Virtual tokens and initial states belong to the start of a sequence: they are resolved only for a fresh cache.
 */
final class HookPlan {

    /**
     * A low-rank delta on rows {@code [rowOffset, rowOffset + out)} of a weight (out_full, in):
     * {@code y[:, rows] += scale · (x·Aᵀ)·Bᵀ}, A (rank, in), B (out, rank).
     */
    record Delta(Tensor a, Tensor b, float scale, int rank, int in, int out, int rowOffset) {
    }

    /** Rows {@code [firstRow, firstRow + rows)} of a concatenated virtual-token matrix that came from one tensor. */
    record Piece(Tensor tensor, int firstRow, int rows) {
    }

    /**
     * One state extension's place in a layer's concatenated extension: columns {@code [first, first + width)} of
     * {@code A'} (D, n'), rows {@code [first, first + width)} of E_B and {@code [n' + first, ...)} of E_C in the stacked
     * read-in/read-out map (2n', D).
     */
    record ExtensionPiece(StateExtensionHook.StateExtension extension, int first, int width) {
    }

    /** What acts on one layer. Arrays are null when nothing acts. */
    static final class Layer {
        float[] h0;
        final List<Tensor> h0Sources = new ArrayList<>();
        float[] hOffset;
        final List<Tensor> hOffsetSources = new ArrayList<>();
        float[] yOffset;
        final List<Tensor> yOffsetSources = new ArrayList<>();
        float[] prefix; // (n, D)
        int prefixLength;
        final List<Piece> prefixPieces = new ArrayList<>();
        final List<Delta> inProj = new ArrayList<>();
        final List<Delta> xProj = new ArrayList<>();
        final List<Delta> dtProj = new ArrayList<>();
        final List<Delta> outProj = new ArrayList<>();
        /** n', the state dimensions the acting extensions add per channel (0: none). */
        int extWidth;
        float[] extNegA; // (D, n') A' = -exp([a'_1 | a'_2 | ...])
        float[] extMaps; // (2n', D) [E_B_1; E_B_2; ...; E_C_1; E_C_2; ...]: x·extMapsᵀ = [B'_t | C'_t]
        final List<ExtensionPiece> extPieces = new ArrayList<>();

        boolean hasHooks() {
            return h0 != null || hOffset != null || yOffset != null || prefixLength > 0 || !inProj.isEmpty()
                    || !xProj.isEmpty() || !dtProj.isEmpty() || !outProj.isEmpty() || extWidth > 0;
        }
    }

    final MambaWeights weights;
    final List<float[]> negA;
    float[] prompt; // (P, d) or null
    int promptLength;
    final List<Piece> promptPieces = new ArrayList<>();
    final List<Delta> head = new ArrayList<>();
    final Layer[] layers;
    /** Base parameter name -> the delta tensors parameter hooks handed out for it. */
    final Map<String, List<Tensor>> parameterDeltas;
    final List<Adapter> acting;

    private HookPlan(MambaWeights weights, List<float[]> negA, float[] prompt, int promptLength, Layer[] layers,
                     Map<String, List<Tensor>> parameterDeltas, List<Adapter> acting) {
        this.weights = weights;
        this.negA = negA;
        this.prompt = prompt;
        this.promptLength = promptLength;
        this.layers = layers;
        this.parameterDeltas = parameterDeltas;
        this.acting = acting;
    }

    /** The plain base model. */
    static HookPlan none(MambaWeights weights, List<float[]> negA) {
        Layer[] ls = new Layer[weights.config().layers()];
        for (int i = 0; i < ls.length; i++) {
            ls[i] = new Layer();
        }
        return new HookPlan(weights, negA, null, 0, ls, Map.of(), List.of());
    }

    /**
     * Resolves the acting adapters of {@code adapters} (after {@code refreshDerived()}) against {@code base}.
     *
     * @param fresh whether the call starts a sequence (virtual tokens and initial states act)
     */
    static HookPlan of(MambaWeights base, List<float[]> baseNegA, AdapterSet adapters, boolean fresh) {
        MambaConfig c = base.config();
        if (!adapters.shape().equals(c.toShape())) {
            throw new IllegalArgumentException("the adapter set is sized for " + adapters.shape().describe()
                    + " but the model is " + c.toShape().describe());
        }
        List<Adapter> acting = adapters.acting();
        if (acting.isEmpty()) {
            return none(base, baseNegA);
        }
        for (Adapter a : acting) {
            a.refreshDerived();
        }
        int di = c.dInner();
        int dn = di * c.dState();
        int dm = c.dModel();

        // parameter hooks: θ = θ_base + Σ Δθ
        Map<String, Tensor> named = base.parameters();
        ParameterDeltaNames.requireKnown(acting, named.keySet(), c);
        Map<String, List<Tensor>> deltas = new LinkedHashMap<>();
        for (Adapter a : acting) {
            if (a instanceof ParameterHook p) {
                for (var e : named.entrySet()) {
                    Optional<Tensor> d = p.parameterDelta(e.getKey());
                    if (d.isPresent()) {
                        check(a, "parameter delta for " + e.getKey(), d.get(), e.getValue().size(),
                                Tensor.format(e.getValue().shape()));
                        deltas.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(d.get());
                    }
                }
            }
        }
        MambaWeights weights = base;
        List<float[]> negA = baseNegA;
        if (!deltas.isEmpty()) {
            Map<String, float[]> replaced = new HashMap<>();
            deltas.forEach((name, list) -> {
                float[] sum = named.get(name).data().clone();
                for (Tensor t : list) {
                    float[] d = t.data();
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += d[i];
                    }
                }
                replaced.put(name, sum);
            });
            weights = base.with((name, array) -> replaced.getOrDefault(name, array));
            negA = new ArrayList<>(baseNegA);
            for (int l = 0; l < c.layers(); l++) {
                if (replaced.containsKey(MambaWeights.layerName(l, "mixer.A_log"))) {
                    negA.set(l, CpuMamba.negA(weights.layers().get(l).aLog()));
                }
            }
        }

        float[] prompt = null;
        int promptLength = 0;
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer();
        }
        var plan = new HookPlan(weights, List.copyOf(negA), null, 0, layers, deltas, acting);
        List<float[]> promptRows = new ArrayList<>();
        for (Adapter a : acting) {
            if (a instanceof InputHook in && fresh) {
                int n = in.virtualTokenCount();
                if (in.placement() == InputHook.Placement.EMBEDDING) {
                    Optional<Tensor> t = in.virtualTokens(-1);
                    if (t.isPresent()) {
                        check(a, "prompt", t.get(), (long) n * dm, Tensor.format(n, dm));
                        plan.promptPieces.add(new Piece(t.get(), promptLength, n));
                        promptRows.add(t.get().data());
                        promptLength += n;
                    }
                } else {
                    for (int l = 0; l < layers.length; l++) {
                        Optional<Tensor> t = in.virtualTokens(l);
                        if (t.isPresent()) {
                            check(a, "prefix of layer " + l, t.get(), (long) n * di, Tensor.format(n, di));
                            Layer ly = layers[l];
                            ly.prefixPieces.add(new Piece(t.get(), ly.prefixLength, n));
                            ly.prefixLength += n;
                        }
                    }
                }
            }
            for (int l = 0; l < layers.length; l++) {
                Layer ly = layers[l];
                int li = l;
                if (a instanceof InitialStateHook h && fresh) {
                    h.initialState(l).ifPresent(t -> {
                        check(a, "initial state of layer " + li, t, dn, Tensor.format(di, c.dState()));
                        ly.h0 = addInto(ly.h0, t);
                        ly.h0Sources.add(t);
                    });
                }
                if (a instanceof StateOffsetHook h) {
                    h.stateOffset(l).ifPresent(t -> {
                        check(a, "state offset of layer " + li, t, dn, Tensor.format(di, c.dState()));
                        ly.hOffset = addInto(ly.hOffset, t);
                        ly.hOffsetSources.add(t);
                    });
                }
                if (a instanceof StateExtensionHook h) {
                    h.stateExtension(l).ifPresent(e -> {
                        if (e.channels() != di) {
                            throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") hands"
                                    + " a state extension of layer " + li + " with a'" + Tensor.format(
                                    e.logDecay().shape()) + "; expected " + di + " channels (d_inner)");
                        }
                        ly.extPieces.add(new ExtensionPiece(e, ly.extWidth, e.width()));
                        ly.extWidth += e.width();
                    });
                }
                if (a instanceof OutputOffsetHook h) {
                    h.outputOffset(l).ifPresent(t -> {
                        check(a, "output offset of layer " + li, t, di, Tensor.format(di));
                        ly.yOffset = addInto(ly.yOffset, t);
                        ly.yOffsetSources.add(t);
                    });
                }
                if (a instanceof ProjectionHook p) {
                    for (Projection target : Projection.values()) {
                        if (!target.isPerLayer()) {
                            continue;
                        }
                        Optional<LowRankDelta> d = p.delta(l, target);
                        if (d.isPresent()) {
                            Delta resolved = resolve(a, d.get(), target, l, c);
                            switch (target.module()) {
                                case "in_proj" -> ly.inProj.add(resolved);
                                case "x_proj" -> ly.xProj.add(resolved);
                                case "dt_proj" -> ly.dtProj.add(resolved);
                                case "out_proj" -> ly.outProj.add(resolved);
                                default -> throw new IllegalStateException("projection " + target);
                            }
                        }
                    }
                }
            }
            if (a instanceof ProjectionHook p) {
                p.delta(-1, Projection.HEAD).ifPresent(d -> plan.head.add(resolve(a, d, Projection.HEAD, -1, c)));
            }
        }
        for (Layer ly : layers) {
            if (ly.extWidth > 0) {
                concatenateExtensions(ly, di);
            }
            if (ly.prefixLength > 0) {
                ly.prefix = new float[ly.prefixLength * di];
                for (Piece p : ly.prefixPieces) {
                    System.arraycopy(p.tensor().data(), 0, ly.prefix, p.firstRow() * di, p.rows() * di);
                }
            }
        }
        if (promptLength > 0) {
            prompt = new float[promptLength * dm];
            int row = 0;
            for (float[] rows : promptRows) {
                System.arraycopy(rows, 0, prompt, row * dm, rows.length);
                row += rows.length / dm;
            }
        }
        plan.prompt = prompt;
        plan.promptLength = promptLength;
        return plan;
    }

    /** The extra state widths n'_l per layer, for the cache (0 where no extension acts). */
    int[] extraStateWidths() {
        int[] w = new int[layers.length];
        for (int l = 0; l < w.length; l++) {
            w[l] = layers[l].extWidth;
        }
        return w;
    }

    // A' = -exp([a'_1 | a'_2 ...]): (D, n'); [E_B_1; ...; E_C_1; ...]: (2n', D)
    private static void concatenateExtensions(Layer ly, int di) {
        int ne = ly.extWidth;
        ly.extNegA = new float[di * ne];
        ly.extMaps = new float[2 * ne * di];
        for (ExtensionPiece p : ly.extPieces) {
            float[] a = p.extension().logDecay().data();
            for (int d = 0; d < di; d++) {
                for (int j = 0; j < p.width(); j++) {
                    ly.extNegA[d * ne + p.first() + j] = (float) -Math.exp(a[d * p.width() + j]);
                }
            }
            System.arraycopy(p.extension().inputMap().data(), 0, ly.extMaps, p.first() * di, p.width() * di);
            System.arraycopy(p.extension().readOut().data(), 0, ly.extMaps, (ne + p.first()) * di, p.width() * di);
        }
    }

    private static float[] addInto(float[] sum, Tensor t) {
        if (sum == null) {
            return t.data().clone();
        }
        float[] d = t.data();
        for (int i = 0; i < sum.length; i++) {
            sum[i] += d[i];
        }
        return sum;
    }

    private static void check(Adapter a, String what, Tensor t, long expected, String shape) {
        if (t.size() != expected) {
            throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") hands a " + what
                    + " of shape " + Tensor.format(t.shape()) + "; expected " + shape);
        }
    }

    /** Full (out, in) of a projection's weight. */
    private static int[] weightShape(Projection target, MambaConfig c) {
        int di = c.dInner();
        return switch (target.module()) {
            case "in_proj" -> new int[] {2 * di, c.dModel()};
            case "x_proj" -> new int[] {c.dtRank() + 2 * c.dState(), di};
            case "dt_proj" -> new int[] {di, c.dtRank()};
            case "out_proj" -> new int[] {c.dModel(), di};
            case "lm_head" -> new int[] {c.vocabSize(), c.dModel()};
            default -> throw new IllegalStateException("projection " + target);
        };
    }

    private static Delta resolve(Adapter a, LowRankDelta d, Projection target, int layer, MambaConfig c) {
        int[] w = weightShape(target, c);
        int rank = d.rank();
        int in = d.a().dim(1);
        int out = d.b().dim(0);
        if (in != w[1] || d.rowOffset() + out > w[0]) {
            throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") hands a low-rank delta"
                    + " on " + target.configName() + (layer >= 0 ? " of layer " + layer : "") + " with A"
                    + Tensor.format(d.a().shape()) + ", B" + Tensor.format(d.b().shape()) + " at row "
                    + d.rowOffset() + "; the weight is " + Tensor.format(w));
        }
        return new Delta(d.a(), d.b(), d.scaling(), rank, in, out, d.rowOffset());
    }
}
