package org.ssmpeft.runtime.adapters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Collectors;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.runtime.checkpoint.CheckpointException;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Checkpoint;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * Folds the low-rank deltas of LoRA-like adapters (any {@link ProjectionHook}) into the base weights:
 * {@code W[rowOffset .. rowOffset + out) += s · B A} for every delta, on in_proj (or its x/z rows), x_proj (or its
 * dt/B/C rows), dt_proj (inside the softplus, as the hook acts), out_proj and the head. ΔW of all adapters on one
 * weight (the whole weight and its row blocks) is summed in double and added with one float32 rounding per element,
 * so the merged model's logits equal the hooked model's within float32 rounding (the products are reassociated:
 * {@code x·(W + sBA)ᵀ} instead of {@code x·Wᵀ + s·(x·Aᵀ)·Bᵀ}). A DoRA delta folds as
 * {@code W[rows] = m ⊙ (W + s·B·A) / ||W + s·B·A||_c} (see {@link LowRankDelta}); unmerging restores the saved rows.
 *
 * <p>Two ways: {@link #merge} returns a new {@link MambaWeights} (arrays without a delta are shared, those with one are
 * copied; the base is untouched, so "unmerging" is using the base again); {@link #mergeInPlace} writes into the
 * given weights (no second copy of the model, and a model built on them sees the change) and returns a
 * {@link Merged} whose {@link Merged#unmerge()} restores the saved original rows, bit for bit (it does not subtract
 * the delta back, which would leave rounding residue). In-place merging must not run while requests use the weights.
 *
 * <p>A tied head (tie_word_embeddings) is the embedding matrix: a head delta would change the embedding too. So
 * {@link #merge} unties it (the merged config says tie_word_embeddings false and has its own lm_head), and
 * {@link #mergeInPlace} refuses head deltas on tied models.
 *
 * <p>Mamba-2 ({@link #merge(Mamba2Weights, List)}, {@link #mergeInPlace(Mamba2Weights, List)},
 * {@link #export(Mamba2Weights, List, Path)}): the deltas on in_proj (whole, or its z, x, B, C, dt rows), out_proj and
 * the head fold the same way.
 *
 * <p>Adapters that feed any other hook (offsets, states, virtual tokens, parameter deltas) are refused: only a
 * low-rank delta is a change of a weight.
 */
public final class LoraMerge {

    private LoraMerge() {
    }

    /** A copy of {@code base} with every delta of {@code adapters} folded in; {@code base} is not changed. */
    public static MambaWeights merge(MambaWeights base, List<? extends Adapter> adapters) {
        List<ProjectionHook> hooks = check(base, adapters);
        IdentityHashMap<float[], float[]> copies = new IdentityHashMap<>();
        boolean headDelta = !deltas(hooks, -1, Projection.HEAD).isEmpty();
        MambaConfig c = base.config();
        MambaConfig mergedConfig = headDelta && c.tieWordEmbeddings() ? untied(c) : c;
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights w = base.layers().get(l);
            for (Projection p : MODULES) {
                List<LowRankDelta> ds = deltas(hooks, l, p);
                if (!ds.isEmpty()) {
                    float[] target = copies.computeIfAbsent(weight(w, p), float[]::clone);
                    fold(target, columns(c, p), ds);
                }
            }
        }
        float[] head = base.lmHead();
        if (headDelta) {
            head = base.lmHead().clone();
            fold(head, c.dModel(), deltas(hooks, -1, Projection.HEAD));
        }
        List<LayerWeights> layers = new ArrayList<>();
        for (LayerWeights w : base.layers()) {
            layers.add(new LayerWeights(w.norm(), copies.getOrDefault(w.inProj(), w.inProj()), w.inProjBias(),
                    w.convWeight(), w.convBias(), copies.getOrDefault(w.xProj(), w.xProj()),
                    copies.getOrDefault(w.dtProj(), w.dtProj()), w.dtProjBias(), w.aLog(), w.d(),
                    copies.getOrDefault(w.outProj(), w.outProj()), w.outProjBias()));
        }
        return new MambaWeights(mergedConfig, base.embedding(), layers, base.normF(), head, base.precision());
    }

    /**
     * A copy of the Mamba-2 model {@code base} with every delta of {@code adapters} folded in (in_proj and its blocks,
     * out_proj, the head; a tied head becomes untied); {@code base} is not changed, arrays without a delta are shared.
     */
    public static Mamba2Weights merge(Mamba2Weights base, List<? extends Adapter> adapters) {
        List<ProjectionHook> hooks = check(base.shape(), adapters);
        Mamba2Config c = base.config();
        List<LowRankDelta> headDeltas = deltas(hooks, -1, Projection.HEAD, ModelFamily.MAMBA2);
        Mamba2Weights source = base;
        if (!headDeltas.isEmpty() && c.tieWordEmbeddings()) {
            // untie first: the head gets its own array, a copy of the embedding, before its delta is folded in
            source = new Mamba2Weights(untied(c), base.embedding(), base.layers(), base.normF(),
                    base.embedding().clone(), base.precision());
        }
        java.util.regex.Pattern perLayer = java.util.regex.Pattern.compile(
                "backbone\\.layers\\.(\\d+)\\.mixer\\.(in_proj|out_proj)\\.weight");
        return source.with((name, w) -> {
            if (name.equals(LanguageModelWeights.LM_HEAD)) {
                if (headDeltas.isEmpty()) {
                    return w;
                }
                float[] head = w == base.lmHead() ? w.clone() : w;
                fold(head, c.dModel(), headDeltas);
                return head;
            }
            java.util.regex.Matcher m = perLayer.matcher(name);
            if (!m.matches()) {
                return w;
            }
            Projection module = m.group(2).equals("in_proj") ? Projection.IN_PROJ : Projection.OUT_PROJ;
            List<LowRankDelta> ds = deltas(hooks, Integer.parseInt(m.group(1)), module, ModelFamily.MAMBA2);
            if (ds.isEmpty()) {
                return w;
            }
            float[] merged = w.clone();
            fold(merged, module == Projection.IN_PROJ ? c.dModel() : c.dInner(), ds);
            return merged;
        });
    }

    /**
     * {@link #mergeInPlace(MambaWeights, List)} for a Mamba-2 model: in_proj (and its blocks), out_proj and an untied
     * head are changed in place, each changed row saved for {@link Merged#unmerge()}; head deltas on a tied model are
     * refused.
     */
    public static Merged mergeInPlace(Mamba2Weights weights, List<? extends Adapter> adapters) {
        List<ProjectionHook> hooks = check(weights.shape(), adapters);
        Mamba2Config c = weights.config();
        return foldInPlace(c.layers(), List.of(Projection.IN_PROJ, Projection.OUT_PROJ), c.tieWordEmbeddings(),
                deltas(hooks, -1, Projection.HEAD, ModelFamily.MAMBA2), weights.lmHead(), c.dModel(),
                (l, p) -> deltas(hooks, l, p, ModelFamily.MAMBA2), (l, p) -> {
                    var w = weights.layers().get(l);
                    return p == Projection.IN_PROJ ? new Target(w.inProj(), c.dModel())
                            : new Target(w.outProj(), c.dInner());
                });
    }

    /**
     * Writes the Mamba-2 model {@code base} with the deltas of {@code adapters} merged as a Hugging Face checkpoint
     * into {@code dir}, through {@link Mamba2Checkpoint#save}.
     */
    public static Mamba2Weights export(Mamba2Weights base, List<? extends Adapter> adapters, Path dir)
            throws CheckpointException {
        Mamba2Weights merged = merge(base, adapters);
        Mamba2Checkpoint.save(merged, dir);
        return merged;
    }

    /**
     * Folds the deltas into {@code weights} themselves, keeping a copy of every changed row for
     * {@link Merged#unmerge()}. Refuses head deltas when the head is tied to the embedding.
     */
    public static Merged mergeInPlace(MambaWeights weights, List<? extends Adapter> adapters) {
        List<ProjectionHook> hooks = check(weights, adapters);
        MambaConfig c = weights.config();
        return foldInPlace(c.layers(), MODULES, c.tieWordEmbeddings(), deltas(hooks, -1, Projection.HEAD),
                weights.lmHead(), c.dModel(), (l, p) -> deltas(hooks, l, p),
                (l, p) -> new Target(weight(weights.layers().get(l), p), columns(c, p)));
    }

    /** A weight matrix that deltas fold into: its row-major values and their row length. */
    private record Target(float[] values, int columns) {
    }

    // mergeInPlace for either family: every layer's modules with deltas, then the head (refused when tied); each
    // changed row saved first, for unmerge
    private static Merged foldInPlace(int layers, List<Projection> modules, boolean tiedHead,
                                      List<LowRankDelta> headDeltas, float[] lmHead, int dModel,
                                      BiFunction<Integer, Projection, List<LowRankDelta>> deltasOf,
                                      BiFunction<Integer, Projection, Target> targetOf) {
        if (!headDeltas.isEmpty() && tiedHead) {
            throw new IllegalArgumentException("cannot merge in place: the head has a low-rank delta, but this"
                    + " model ties lm_head to the embedding (tie_word_embeddings), so merging would change the"
                    + " embedding too; use LoraMerge.merge, which unties the head");
        }
        List<Saved> saved = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (Projection p : modules) {
                List<LowRankDelta> ds = deltasOf.apply(l, p);
                if (!ds.isEmpty()) {
                    Target t = targetOf.apply(l, p);
                    saved.add(Saved.rows(t.values(), t.columns(), ds));
                    fold(t.values(), t.columns(), ds);
                }
            }
        }
        if (!headDeltas.isEmpty()) {
            saved.add(Saved.rows(lmHead, dModel, headDeltas));
            fold(lmHead, dModel, headDeltas);
        }
        return new Merged(saved);
    }

    /**
     * Writes {@code base} with the deltas of {@code adapters} merged as a Hugging Face checkpoint ({@code config.json}
     * + {@code model.safetensors}) into {@code dir}, through {@link MambaCheckpoint#save}.
     */
    public static MambaWeights export(MambaWeights base, List<? extends Adapter> adapters, Path dir)
            throws CheckpointException {
        MambaWeights merged = merge(base, adapters);
        MambaCheckpoint.save(merged, dir);
        return merged;
    }

    /** The result of {@link #mergeInPlace}: undo it with {@link #unmerge()}, once. */
    public static final class Merged {
        private final List<Saved> saved;
        private boolean merged = true;

        private Merged(List<Saved> saved) {
            this.saved = saved;
        }

        public synchronized boolean isMerged() {
            return merged;
        }

        /** Restores every changed row from its saved copy: the weights are bit for bit what they were. */
        public synchronized void unmerge() {
            if (!merged) {
                throw new IllegalStateException("already unmerged");
            }
            for (Saved s : saved) {
                System.arraycopy(s.rows(), 0, s.array(), s.from(), s.rows().length);
            }
            merged = false;
        }
    }

    /** The original values of elements {@code [from, from + rows.length)} of {@code array}. */
    private record Saved(float[] array, int from, float[] rows) {
        static Saved rows(float[] array, int columns, List<LowRankDelta> deltas) {
            int first = Integer.MAX_VALUE;
            int last = 0;
            for (LowRankDelta d : deltas) {
                first = Math.min(first, d.rowOffset());
                last = Math.max(last, d.rowOffset() + d.b().dim(0));
            }
            int from = first * columns;
            float[] copy = new float[(last - first) * columns];
            System.arraycopy(array, from, copy, 0, copy.length);
            return new Saved(array, from, copy);
        }
    }

    private static List<ProjectionHook> check(MambaWeights base, List<? extends Adapter> adapters) {
        return check(base.config().toShape(), adapters);
    }

    private static List<ProjectionHook> check(org.ssmpeft.api.shape.ModelShape shape,
                                              List<? extends Adapter> adapters) {
        List<ProjectionHook> hooks = new ArrayList<>();
        for (Adapter a : adapters) {
            if (!a.shape().equals(shape)) {
                throw new IllegalArgumentException("adapter '" + a.name() + "' is sized for " + a.shape().describe()
                        + " but the model is " + shape.describe());
            }
            Set<HookKind> other = a.hooks().stream().filter(k -> k != HookKind.PROJECTION)
                    .collect(Collectors.toSet());
            if (!other.isEmpty() || !(a instanceof ProjectionHook p)) {
                throw new IllegalArgumentException("adapter '" + a.name() + "' (" + a.method() + ") feeds "
                        + (other.isEmpty() ? "no projection hook" : other.stream().map(HookKind::label).sorted()
                        .collect(Collectors.joining(", ")) + " hooks") + ", which cannot be folded into weights;"
                        + " only low-rank deltas (projection hooks, e.g. lora) merge");
            }
            hooks.add(p);
        }
        return hooks;
    }

    /** The per-layer weights of a Mamba-1 block, each named by its whole-module projection. */
    private static final List<Projection> MODULES = List.of(Projection.IN_PROJ, Projection.X_PROJ,
            Projection.DT_PROJ, Projection.OUT_PROJ);

    /** Every delta of every adapter on the weight of {@code module}'s module: the whole weight and its row blocks. */
    private static List<LowRankDelta> deltas(List<ProjectionHook> hooks, int layer, Projection module) {
        return deltas(hooks, layer, module, ModelFamily.MAMBA);
    }

    private static List<LowRankDelta> deltas(List<ProjectionHook> hooks, int layer, Projection module,
                                             ModelFamily family) {
        List<LowRankDelta> out = new ArrayList<>();
        for (Projection p : Projection.values()) {
            if (p.module().equals(module.module()) && p.existsIn(family)) {
                for (ProjectionHook h : hooks) {
                    Optional<LowRankDelta> d = h.delta(layer, p);
                    d.ifPresent(out::add);
                }
            }
        }
        return out;
    }

    private static float[] weight(LayerWeights w, Projection p) {
        return switch (p.module()) {
            case "in_proj" -> w.inProj();
            case "x_proj" -> w.xProj();
            case "dt_proj" -> w.dtProj();
            case "out_proj" -> w.outProj();
            default -> throw new IllegalArgumentException("no per-layer weight for " + p.configName());
        };
    }

    /** Input width of the whole weight of {@code p}'s module. */
    private static int columns(MambaConfig c, Projection p) {
        return switch (p.module()) {
            case "in_proj", "lm_head" -> c.dModel();
            case "x_proj", "out_proj" -> c.dInner();
            case "dt_proj" -> c.dtRank();
            default -> throw new IllegalArgumentException("unknown module " + p.module());
        };
    }

    /**
     * {@code W[rowOffset + o, i] += Σ_deltas s · Σ_k B[o, k] A[k, i]}, summed in double, rounded once. A DoRA delta
     * (with a magnitude) adds its rows' change to {@code m ⊙ (W + s·B·A) / ||W + s·B·A||_c} instead,
     * {@code (g − 1)·W[o] + g·s·(BA)[o]} with g = m / n from the unmerged W, as the hook computes it; a magnitude
     * not yet set is set to the base rows' norms first, as the hook plan would. A PiSSA delta adds
     * {@code s·B·A − s·B0·A0}, B0 and A0 the principal factors of the unmerged rows (unset A, B set to them first).
     */
    private static void fold(float[] w, int columns, List<LowRankDelta> deltas) {
        int first = Integer.MAX_VALUE;
        int last = 0;
        for (LowRankDelta d : deltas) {
            if (d.a().dim(1) != columns) {
                throw new IllegalArgumentException("low-rank delta A" + org.ssmpeft.api.tensor.Tensor.format(
                        d.a().shape()) + " does not match a weight of " + columns + " columns");
            }
            first = Math.min(first, d.rowOffset());
            last = Math.max(last, d.rowOffset() + d.b().dim(0));
        }
        double[] sum = new double[(last - first) * columns];
        for (LowRankDelta d : deltas) {
            float[] a = d.a().data();
            float[] b = d.b().data();
            int r = d.rank();
            int out = d.b().dim(0);
            double s = d.scaling();
            float[] gain = null;
            if (d.magnitude().isPresent()) {
                float[] m = d.magnitude().get().data();
                org.ssmpeft.runtime.plan.HookPlan.setUnsetMagnitude(m, w, columns, d.rowOffset());
                float[] n = org.ssmpeft.runtime.plan.HookPlan.rowNorms(w, columns, d.rowOffset(), out, b, a,
                        d.scaling());
                gain = new float[out];
                for (int o = 0; o < out; o++) {
                    gain[o] = m[o] / n[o];
                }
            }
            float[] a0 = null;
            float[] b0 = null;
            if (d.pissa()) { // s·B·A − s·B0·A0, the factors of the rows before the merge (PiSSA)
                var f = org.ssmpeft.runtime.plan.PrincipalFactors.of(w, columns, d.rowOffset(), out, r, d.scaling());
                a0 = f.a0();
                b0 = f.b0();
                org.ssmpeft.runtime.plan.HookPlan.setUnset(a, a0);
                org.ssmpeft.runtime.plan.HookPlan.setUnset(b, b0);
            }
            for (int o = 0; o < out; o++) {
                int row = (d.rowOffset() - first + o) * columns;
                if (b0 != null) {
                    for (int k = 0; k < r; k++) {
                        double bk = s * b0[o * r + k];
                        for (int i = 0; i < columns; i++) {
                            sum[row + i] -= bk * a0[k * columns + i];
                        }
                    }
                }
                double g = gain == null ? 1 : gain[o];
                if (gain != null) {
                    int wRow = (d.rowOffset() + o) * columns;
                    for (int i = 0; i < columns; i++) {
                        sum[row + i] += (g - 1) * w[wRow + i];
                    }
                }
                for (int k = 0; k < r; k++) {
                    double bk = g * s * b[o * r + k];
                    if (bk == 0) {
                        continue;
                    }
                    for (int i = 0; i < columns; i++) {
                        sum[row + i] += bk * a[k * columns + i];
                    }
                }
            }
        }
        int base = first * columns;
        for (int i = 0; i < sum.length; i++) {
            w[base + i] = (float) (w[base + i] + sum[i]);
        }
    }

    private static Mamba2Config untied(Mamba2Config c) {
        return new Mamba2Config(c.vocabSize(), c.dModel(), c.dState(), c.layers(), c.layerNormEpsilon(),
                c.padTokenId(), c.bosTokenId(), c.eosTokenId(), c.expand(), c.heads(), c.headDim(), c.groups(),
                c.convKernel(), c.chunkSize(), c.useBias(), c.useConvBias(), c.residualInFp32(), c.timeStepLimitMin(),
                c.timeStepLimitMax(), c.timeStepMin(), c.timeStepMax(), c.timeStepFloor(), c.timeStepRank(),
                c.normGroupSize(), c.initializerRange(), false);
    }

    private static MambaConfig untied(MambaConfig c) {
        return new MambaConfig(c.vocabSize(), c.dModel(), c.dState(), c.layers(), c.layerNormEpsilon(),
                c.padTokenId(), c.bosTokenId(), c.eosTokenId(), c.expand(), c.dInner(), c.convKernel(), c.useBias(),
                c.useConvBias(), c.hiddenAct(), c.initializerRange(), c.residualInFp32(), c.dtRank(),
                c.timeStepScale(), c.timeStepMin(), c.timeStepMax(), c.timeStepInitScheme(), c.timeStepFloor(),
                c.rescalePrenormResidual(), c.useCache(), false);
    }
}
