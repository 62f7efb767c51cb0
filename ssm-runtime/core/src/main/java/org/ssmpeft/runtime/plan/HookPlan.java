package org.ssmpeft.runtime.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;

/**
 * What acts where, for one call on one model: the hooks of the acting adapters of an {@link AdapterSet} resolved
 * once, backend-neutrally, into {@link Term}s a backend computes with. Symbols: d d_model, D d_inner, N d_state,
 * P prompt tokens, n prefix tokens, n' extension width.
 * <ul>
 *   <li>summed per layer: initial states Σh0 (D, N), state offsets Σh' (D, N), output offsets Σy' (D);</li>
 *   <li>summed per base tensor: parameter deltas ΣΔθ, by Hugging Face name ({@code θ = θ_base + ΣΔθ});</li>
 *   <li>concatenated in stack order: prompt rows at the embedding (P, d), prefix rows per layer (n, D), state
 *       extensions per layer (a' as (D, n') or, on Mamba-2, (H, n'), [E_B; E_C] as (2n', D), N + n' state
 *       dimensions per channel or head);</li>
 *   <li>listed per weight: low-rank deltas {@code y[:, rows] += s·(x·Aᵀ)·Bᵀ} on in_proj, x_proj, dt_proj, out_proj
 *       (and their row blocks) and the head.</li>
 * </ul>
 * Virtual tokens and initial states belong to the start of a sequence: they are resolved only for a fresh state.
 * Every tensor a hook hands out is checked against the model's shape here, once, with the adapter's name in the
 * message; so are tokens ({@link #checkTokens}), labels ({@link #targets}) and trainable base names
 * ({@link #gradientBaseNames}). After a backward, {@link #result} routes a backend's {@link PlanGradients} back to
 * every adapter's parameters through the terms' sources. A backend never looks at an {@link Adapter}.
 */
public final class HookPlan {

    /**
     * A low-rank delta on rows {@code [rowOffset, rowOffset + out)} of a weight (out_full, in):
     * {@code y[:, rows] += scale · (x·Aᵀ)·Bᵀ}, A (rank, in), B (out, rank); with DoRA
     * {@code y[:, rows] += (g − 1) ⊙ (x·W[rows]ᵀ) + g ⊙ scale · (x·Aᵀ)·Bᵀ}, g = m / n per row.
     */
    public record LowRank(Term a, Term b, float scale, int rank, int in, int out, int rowOffset, Optional<Dora> dora) {
    }

    /**
     * DoRA's part of a {@link LowRank}: the magnitude m (out), the detached row norms n = ||W[rows] + s·B·A||_c (out)
     * of this call's A and B, and the weight W (out_full, in) they were computed from (the base weight: a DoRA
     * delta on a weight that a parameter delta changes or that is trained is refused). Backward, with n a constant:
     * dL/dm = Σ_positions dy ⊙ (x·W[rows]ᵀ + s·(x·Aᵀ)·Bᵀ) / n, and A, B, x see dy scaled by g per row.
     */
    public record Dora(Term magnitude, float[] norm, float[] weight) {

        /** g = m / n per adapted row. */
        public float[] gain() {
            float[] m = magnitude.value();
            float[] g = new float[m.length];
            for (int j = 0; j < g.length; j++) {
                g[j] = m[j] / norm[j];
            }
            return g;
        }
    }

    /**
     * The acting state extensions of one layer, concatenated: A' = -exp(logDecay) (D, n'; Mamba-2: H, n'), and the
     * stacked read-in and read-out maps [E_B; E_C] (2n', D), so that x·mapsᵀ = [B'_t | C'_t].
     */
    public record Extension(int width, Term logDecay, Term maps) {
    }

    /** What acts on one layer. */
    public static final class Layer {
        private Term initialState;
        private Term stateOffset;
        private Term outputOffset;
        private Term prefix;
        private final Map<String, List<LowRank>> deltas = new LinkedHashMap<>();
        private Extension extension;

        /** Σ h0 (D, N), on a fresh state only. */
        public Optional<Term> initialState() {
            return Optional.ofNullable(initialState);
        }

        /** Σ h' (D, N): {@code y_t += silu(z_t) ⊙ (C_t · h')}. */
        public Optional<Term> stateOffset() {
            return Optional.ofNullable(stateOffset);
        }

        /** Σ y' (D): {@code y_t += silu(z_t) ⊙ y'}. */
        public Optional<Term> outputOffset() {
            return Optional.ofNullable(outputOffset);
        }

        /** Prefix rows (n, D) prepended to the conv input x, on a fresh state only. */
        public Optional<Term> prefix() {
            return Optional.ofNullable(prefix);
        }

        /** n, the prefix rows (0 without a prefix). */
        public int prefixLength() {
            return prefix == null ? 0 : prefix.dim(0);
        }

        /** The low-rank deltas on {@code module}'s weight ({@code in_proj}, {@code x_proj}, ...), in stack order. */
        public List<LowRank> deltas(String module) {
            return deltas.getOrDefault(module, List.of());
        }

        /** The concatenated state extensions, when any acts here. */
        public Optional<Extension> extension() {
            return Optional.ofNullable(extension);
        }

        /** n', the state dimensions the acting extensions add per channel (0: none). */
        public int extensionWidth() {
            return extension == null ? 0 : extension.width();
        }

        /** Whether anything acts on this layer (so a backward must reach it). */
        public boolean hasHooks() {
            return initialState != null || stateOffset != null || outputOffset != null || prefix != null
                    || !deltas.isEmpty() || extension != null;
        }
    }

    private final ModelSpec spec;
    private final boolean fresh;
    private final List<Adapter> acting;
    private final Layer[] layers;
    private final List<LowRank> head = new ArrayList<>();
    private final Map<String, Term> parameterDeltas = new LinkedHashMap<>();
    private final Set<String> doraWeights = new LinkedHashSet<>();
    /** Base weights that a PiSSA delta adapts (they may not be trained: its frozen factors are theirs). */
    private final Set<String> pissaWeights = new LinkedHashSet<>();
    private Term prompt;

    private HookPlan(ModelSpec spec, boolean fresh, List<Adapter> acting) {
        this.spec = spec;
        this.fresh = fresh;
        this.acting = List.copyOf(acting);
        this.layers = new Layer[spec.shape().layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer();
        }
    }

    /**
     * Resolves the acting adapters of {@code adapters} against {@code spec}, after each adapter's
     * {@code refreshDerived()}; fails naming the adapter and the tensor when a hook hands out a wrong shape.
     *
     * @param fresh whether the call starts a sequence (virtual tokens and initial states act)
     */
    public static HookPlan resolve(ModelSpec spec, AdapterSet adapters, boolean fresh) {
        ModelShape s = spec.shape();
        if (!adapters.shape().equals(s)) {
            throw new IllegalArgumentException("the adapter set is sized for " + adapters.shape().describe()
                    + " but the model is " + s.describe());
        }
        List<Adapter> acting = adapters.acting();
        var plan = new HookPlan(spec, fresh, acting);
        if (acting.isEmpty()) {
            return plan;
        }
        for (Adapter a : acting) {
            a.refreshDerived();
        }
        plan.resolveParameterDeltas();
        int di = s.dInner();
        int dn = di * s.dState();
        // a' has a row per channel (Mamba-1) or per head (Mamba-2, StateExtensionHook)
        int decayRows = s.family() == org.ssmpeft.api.shape.ModelFamily.MAMBA2 ? s.heads() : di;
        var prompt = new Concat("prompt", s.dModel());
        var prefixes = new Concat[layers(s)];
        var extensions = new ArrayList<List<StateExtensionHook.StateExtension>>();
        var h0 = new Sum[layers(s)];
        var hOff = new Sum[layers(s)];
        var yOff = new Sum[layers(s)];
        for (int l = 0; l < layers(s); l++) {
            prefixes[l] = new Concat("prefix of layer " + l, s.mixerInputWidth());
            extensions.add(new ArrayList<>());
            h0[l] = new Sum("initial state of layer " + l, di, s.dState());
            hOff[l] = new Sum("state offset of layer " + l, di, s.dState());
            yOff[l] = new Sum("output offset of layer " + l, di);
        }
        for (Adapter a : acting) {
            if (a instanceof InputHook in && fresh) {
                int n = in.virtualTokenCount();
                if (in.placement() == InputHook.Placement.EMBEDDING) {
                    in.virtualTokens(-1).ifPresent(t -> prompt.add(a, t, n));
                } else {
                    for (int l = 0; l < layers(s); l++) {
                        int li = l;
                        in.virtualTokens(l).ifPresent(t -> prefixes[li].add(a, t, n));
                    }
                }
            }
            for (int l = 0; l < layers(s); l++) {
                int li = l;
                if (a instanceof InitialStateHook h && fresh) {
                    h.initialState(l).ifPresent(t -> h0[li].add(a, t));
                }
                if (a instanceof StateOffsetHook h) {
                    h.stateOffset(l).ifPresent(t -> hOff[li].add(a, t));
                }
                if (a instanceof OutputOffsetHook h) {
                    h.outputOffset(l).ifPresent(t -> yOff[li].add(a, t));
                }
                if (a instanceof StateExtensionHook h) {
                    h.stateExtension(l).ifPresent(e -> {
                        if (e.channels() != decayRows || e.inputWidth() != di) {
                            throw new IllegalArgumentException(who(a) + " hands a state extension of layer " + li
                                    + " with a'" + Tensor.format(e.logDecay().shape()) + " and E_B"
                                    + Tensor.format(e.inputMap().shape()) + "; expected " + decayRows + " rows of a' ("
                                    + (decayRows == di ? "d_inner" : "heads") + ") and " + di + " columns of E_B"
                                    + " (d_inner)");
                        }
                        extensions.get(li).add(e);
                    });
                }
                if (a instanceof ProjectionHook p) {
                    for (Projection target : Projection.values()) {
                        if (target.isPerLayer()) {
                            p.delta(l, target).ifPresent(d -> plan.layers[li].deltas
                                    .computeIfAbsent(target.module(), k -> new ArrayList<>())
                                    .addAll(plan.lowRank(a, d, target, li)));
                        }
                    }
                }
            }
            if (a instanceof ProjectionHook p) {
                p.delta(-1, Projection.HEAD).ifPresent(d -> plan.head.addAll(plan.lowRank(a, d, Projection.HEAD, -1)));
            }
        }
        plan.prompt = prompt.term();
        for (int l = 0; l < layers(s); l++) {
            Layer ly = plan.layers[l];
            ly.prefix = prefixes[l].term();
            ly.initialState = h0[l].term();
            ly.stateOffset = hOff[l].term();
            ly.outputOffset = yOff[l].term();
            ly.extension = concatenate(l, extensions.get(l), decayRows, di);
        }
        return plan;
    }

    private static int layers(ModelShape s) {
        return s.layers();
    }

    /** The model the plan was resolved against. */
    public ModelSpec spec() {
        return spec;
    }

    /** Whether the call starts a sequence. */
    public boolean fresh() {
        return fresh;
    }

    /** The acting adapters, in stack order. */
    public List<Adapter> acting() {
        return acting;
    }

    /** Prompt rows at the embedding (P, d), on a fresh state only. */
    public Optional<Term> prompt() {
        return Optional.ofNullable(prompt);
    }

    /** P, the virtual tokens prepended at the embedding (0 without a prompt). */
    public int promptLength() {
        return prompt == null ? 0 : prompt.dim(0);
    }

    /** The low-rank deltas on the head. */
    public List<LowRank> head() {
        return List.copyOf(head);
    }

    /** What acts on {@code layer}. */
    public Layer layer(int layer) {
        return layers[layer];
    }

    /** Σ Δθ per base parameter a parameter hook acts on, by Hugging Face name, in checkpoint order. */
    public Map<String, Term> parameterDeltas() {
        return java.util.Collections.unmodifiableMap(parameterDeltas);
    }

    /** The extra state widths n'_l per layer (0 where no extension acts), for the recurrent state. */
    public int[] extraStateWidths() {
        int[] w = new int[layers.length];
        for (int l = 0; l < w.length; l++) {
            w[l] = layers[l].extensionWidth();
        }
        return w;
    }

    // -----------------------------------------------------------------------------------------------------------
    // validation of what the caller passes, once for every backend

    /**
     * Fails unless tokens are (B, T) with B = {@code batch}, T ≥ 1 equal across rows and every id in the
     * vocabulary; the message names the row and the id.
     */
    public static void checkTokens(int[][] tokens, int batch, int vocab) {
        if (tokens.length != batch) {
            throw new IllegalArgumentException("expected " + batch + " token rows (the state's batch), found "
                    + tokens.length);
        }
        if (batch == 0) {
            throw new IllegalArgumentException("expected at least one token row, found none");
        }
        int t = tokens[0].length;
        if (t == 0) {
            throw new IllegalArgumentException("expected at least one token per row, found none");
        }
        for (int b = 0; b < tokens.length; b++) {
            if (tokens[b].length != t) {
                throw new IllegalArgumentException("token rows must have equal length; row 0 has " + t + ", row "
                        + b + " has " + tokens[b].length);
            }
            for (int id : tokens[b]) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " in row " + b
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
        }
    }

    /**
     * Next-token targets per position, (B·(P+T)): position p predicts {@code e[p+1]} of the extended labels
     * {@code e = [-100]·P + labels}; the last position predicts nothing ({@link SsmModel#IGNORE_INDEX}). Fails
     * naming the row when the labels do not match the tokens, and the label when it is outside the vocabulary.
     */
    public int[] targets(int[][] tokens, int[][] labels) {
        int vocab = spec.shape().vocab();
        if (labels.length != tokens.length) {
            throw new IllegalArgumentException("labels: expected " + tokens.length + " rows (the tokens' batch),"
                    + " found " + labels.length);
        }
        int p = promptLength();
        int t = tokens[0].length;
        int len = p + t;
        int[] out = new int[tokens.length * len];
        for (int b = 0; b < tokens.length; b++) {
            if (labels[b].length != t) {
                throw new IllegalArgumentException("labels: row " + b + " has " + labels[b].length
                        + " labels, expected " + t + " (one per token)");
            }
            for (int label : labels[b]) {
                if (label != SsmModel.IGNORE_INDEX && (label < 0 || label >= vocab)) {
                    throw new IllegalArgumentException("labels: row " + b + " has label " + label + ", outside the"
                            + " vocabulary [0, " + vocab + ") and not the ignore index " + SsmModel.IGNORE_INDEX);
                }
            }
            for (int q = 0; q < len; q++) {
                int next = q + 1;
                out[b * len + q] = next < p || next >= len ? SsmModel.IGNORE_INDEX : labels[b][next - p];
            }
        }
        return out;
    }

    /** Positions of {@code targets} that have a target. */
    public static int targetCount(int[] targets) {
        int n = 0;
        for (int t : targets) {
            if (t != SsmModel.IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    /**
     * The base parameters whose gradient a backward must compute: the trainable ones (each checked to be a
     * parameter of the model, else the error lists the names) and those a parameter delta acts on.
     */
    public Set<String> gradientBaseNames(Set<String> trainable) {
        Map<String, Tensor> named = spec.parameters();
        for (String n : trainable) {
            if (!named.containsKey(n)) {
                throw new IllegalArgumentException("unknown base parameter '" + n + "'"
                        + (spec.tiedHead() && n.equals("lm_head.weight")
                        ? " (the head is tied: train backbone.embeddings.weight)" : "")
                        + "; names are those of the Hugging Face checkpoint: " + ParameterDeltaNames.summary(named));
            }
        }
        for (String n : trainable) {
            if (pissaWeights.contains(n)) {
                throw new IllegalArgumentException("base parameter '" + n + "' cannot be trained while a PiSSA delta"
                        + " (lora with init_lora_weights pissa) adapts it: PiSSA's frozen factors are those of the base"
                        + " weight; train another weight, or use init_lora_weights default there");
            }
            if (doraWeights.contains(n)) {
                throw new IllegalArgumentException("base parameter '" + n + "' cannot be trained while a DoRA delta"
                        + " (lora with use_dora) adapts it: DoRA's norm is taken of the base weight; train another"
                        + " weight, or use plain LoRA there");
            }
        }
        Set<String> out = new LinkedHashSet<>();
        for (String n : named.keySet()) {
            if (trainable.contains(n) || parameterDeltas.containsKey(n)) {
                out.add(n);
            }
        }
        return out;
    }

    // -----------------------------------------------------------------------------------------------------------
    // gradients back to the adapters

    /**
     * The backward's result: each acting adapter's parameter gradients (the terms' gradients sent to their sources,
     * a parameter delta's gradient being its base parameter's), and the trainable base parameters' gradients.
     */
    public LossAndGradients result(double loss, int targets, Logits logits, PlanGradients g, Set<String> trainable) {
        IdentityHashMap<Tensor, Tensor> byTensor = new IdentityHashMap<>();
        g.terms().forEach((term, grad) -> route(term, grad, byTensor));
        parameterDeltas.forEach((name, term) -> {
            float[] grad = g.baseOrNull(name);
            if (grad != null) {
                route(term, grad, byTensor);
            }
        });
        g.direct().forEach((t, grad) -> accumulate(byTensor, t, grad, Term.Source.whole(t)));
        Map<String, Map<String, Tensor>> adapterGradients = new LinkedHashMap<>();
        for (Adapter a : acting) {
            adapterGradients.put(a.name(), a.parameterGradients(byTensor));
        }
        Map<String, Tensor> baseGradients = new LinkedHashMap<>();
        spec.parameters().forEach((name, p) -> {
            if (trainable.contains(name)) {
                float[] grad = g.baseOrNull(name);
                baseGradients.put(name, Tensor.of(grad == null ? new float[p.size()] : grad, p.shape()));
            }
        });
        return new LossAndGradients(loss, targets, logits, adapterGradients, baseGradients);
    }

    private static void route(Term term, float[] grad, IdentityHashMap<Tensor, Tensor> byTensor) {
        for (Term.Source s : term.sources()) {
            accumulate(byTensor, s.tensor(), grad, s);
        }
    }

    private static void accumulate(IdentityHashMap<Tensor, Tensor> byTensor, Tensor t, float[] grad, Term.Source s) {
        float[] acc = byTensor.computeIfAbsent(t, k -> Tensor.of(new float[k.size()], k.shape())).data();
        for (int r = 0; r < s.rows(); r++) {
            for (int c = 0; c < s.cols(); c++) {
                acc[r * s.cols() + c] += grad[s.offset() + r * s.stride() + c];
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------
    // resolution

    private void resolveParameterDeltas() {
        Map<String, Tensor> named = spec.parameters();
        ParameterDeltaNames.requireKnown(acting, spec);
        Map<String, Sum> sums = new LinkedHashMap<>();
        for (String name : named.keySet()) { // checkpoint order
            for (Adapter a : acting) {
                if (a instanceof ParameterHook p) {
                    Optional<Tensor> d = p.parameterDelta(name);
                    if (d.isPresent()) {
                        sums.computeIfAbsent(name, n -> new Sum("parameter delta for " + n, named.get(n).shape()))
                                .add(a, d.get());
                    }
                }
            }
        }
        sums.forEach((name, sum) -> parameterDeltas.put(name, sum.term()));
    }

    /**
     * The plan's low-rank terms of one delta: its own, and for PiSSA a second, {@code −s·B0·A0}, of the frozen
     * principal factors of the base rows (the runtime's, not the adapter's: they get no update), after setting the
     * still-unset (NaN) elements of A and B to A0 and B0.
     */
    private List<LowRank> lowRank(Adapter a, LowRankDelta d, Projection target, int layer) {
        String weightName = weightName(target, layer);
        int[] w = weightShape(target, weightName);
        int rank = d.rank();
        int in = d.a().dim(1);
        int out = d.b().dim(0);
        if (in != w[1] || d.rowOffset() + out > w[0] || d.b().dim(1) != rank) {
            throw new IllegalArgumentException(who(a) + " hands a low-rank delta on " + target.configName()
                    + (layer >= 0 ? " of layer " + layer : "") + " with A" + Tensor.format(d.a().shape()) + ", B"
                    + Tensor.format(d.b().shape()) + " at row " + d.rowOffset() + "; the weight is "
                    + Tensor.format(w));
        }
        String where = target.configName() + (layer >= 0 ? " of layer " + layer : "");
        Optional<Dora> dora = d.magnitude().map(m -> {
            if (parameterDeltas.containsKey(weightName)) {
                throw new IllegalArgumentException(who(a) + " hands a DoRA delta on " + where + ", whose weight "
                        + weightName + " a parameter delta also changes; DoRA's norm is taken of the base weight:"
                        + " drop one of the two on this weight");
            }
            doraWeights.add(weightName);
            float[] weight = spec.parameters().get(weightName).data();
            setUnsetMagnitude(m.data(), weight, in, d.rowOffset());
            float[] norm = rowNorms(weight, in, d.rowOffset(), out, d.b().data(), d.a().data(), d.scaling());
            return new Dora(Term.of("DoRA magnitude on " + where, m), norm, weight);
        });
        LowRank own = new LowRank(Term.of("lora A on " + where, d.a()), Term.of("lora B on " + where, d.b()),
                d.scaling(), rank, in, out, d.rowOffset(), dora);
        if (!d.pissa()) {
            return List.of(own);
        }
        pissaWeights.add(weightName);
        PrincipalFactors f = principalFactors(spec.parameters().get(weightName).data(), in, d.rowOffset(), out, rank,
                d.scaling());
        setUnset(d.a().data(), f.a0());
        setUnset(d.b().data(), f.b0());
        return List.of(own, new LowRank(Term.of("PiSSA's frozen A0 on " + where, Tensor.of(f.a0(), rank, in)),
                Term.of("PiSSA's frozen B0 on " + where, Tensor.of(f.b0(), out, rank)), -d.scaling(), rank, in, out,
                d.rowOffset(), Optional.empty()));
    }

    /**
     * PiSSA's factors of a base weight's rows, computed once per weight array, block, rank and scaling: a base weight
     * is never changed in place while a PiSSA delta adapts it (training it is refused), and the SVD of a wide
     * projection takes seconds. Weakly keyed by the array, so a dropped model takes its factors with it.
     */
    private static PrincipalFactors principalFactors(float[] w, int in, int rowOffset, int out, int rank, float s) {
        String key = in + "/" + rowOffset + "/" + out + "/" + rank + "/" + Float.floatToIntBits(s);
        Map<String, PrincipalFactors> byBlock;
        synchronized (PRINCIPAL_FACTORS) {
            byBlock = PRINCIPAL_FACTORS.computeIfAbsent(w, k -> new java.util.concurrent.ConcurrentHashMap<>());
        }
        return byBlock.computeIfAbsent(key, k -> PrincipalFactors.of(w, in, rowOffset, out, rank, s));
    }

    private static final Map<float[], Map<String, PrincipalFactors>> PRINCIPAL_FACTORS = new java.util.WeakHashMap<>();

    /** Sets the unset (NaN, {@code Initializer.PrincipalFactor}) elements of a PiSSA factor to its start. */
    public static void setUnset(float[] factor, float[] start) {
        for (int i = 0; i < factor.length; i++) {
            if (Float.isNaN(factor[i])) {
                factor[i] = start[i];
            }
        }
    }

    /**
     * Sets the elements of a DoRA magnitude that are still unset (NaN, {@code Initializer.BaseRowNorm}) to the norms
     * of their base rows {@code ||W[rowOffset + j]||}: the first time the adapter meets the base weight (w (·, in)).
     */
    public static void setUnsetMagnitude(float[] m, float[] w, int in, int rowOffset) {
        float[] baseNorm = null;
        for (int j = 0; j < m.length; j++) {
            if (Float.isNaN(m[j])) {
                if (baseNorm == null) {
                    baseNorm = rowNorms(w, in, rowOffset, m.length, null, null, 0f);
                }
                m[j] = baseNorm[j];
            }
        }
    }

    /**
     * ||W[rowOffset + j] + s·(B·A)[j]|| per row j of the block (PEFT's {@code weight_norm}, over the input dimension),
     * summed in double; without B and A the base rows' norms, bit for bit what the same rows give with B = 0.
     */
    public static float[] rowNorms(float[] w, int in, int rowOffset, int out, float[] b, float[] a, float s) {
        int r = b == null ? 0 : b.length / out;
        float[] norm = new float[out];
        double[] ba = new double[in];
        for (int j = 0; j < out; j++) {
            java.util.Arrays.fill(ba, 0);
            for (int q = 0; q < r; q++) {
                double bjq = b[j * r + q];
                for (int k = 0; k < in; k++) {
                    ba[k] += bjq * a[q * in + k];
                }
            }
            double sum = 0;
            int row = (rowOffset + j) * in;
            for (int k = 0; k < in; k++) {
                double v = w[row + k] + s * ba[k];
                sum += v * v;
            }
            norm[j] = (float) Math.sqrt(sum);
        }
        return norm;
    }

    private String weightName(Projection target, int layer) {
        return weightName(spec, target, layer);
    }

    /** The Hugging Face name of a projection's weight in {@code spec} (a tied head's is the embedding). */
    public static String weightName(ModelSpec spec, Projection target, int layer) {
        return target == Projection.HEAD
                ? (spec.tiedHead() ? "backbone.embeddings.weight" : "lm_head.weight")
                : "backbone.layers." + layer + ".mixer." + target.module() + ".weight";
    }

    // (out, in) of a projection's weight, read off the model's own tensors (so every family's layout holds)
    private int[] weightShape(Projection target, String name) {
        Tensor w = spec.parameters().get(name);
        if (w == null) {
            throw new IllegalArgumentException("a low-rank delta targets " + target.configName() + ", but this "
                    + spec.family() + " model has no " + name);
        }
        return w.shape();
    }

    private static Extension concatenate(int layer, List<StateExtensionHook.StateExtension> pieces, int rows,
                                         int di) {
        if (pieces.isEmpty()) {
            return null;
        }
        int ne = pieces.stream().mapToInt(StateExtensionHook.StateExtension::width).sum();
        float[] logDecay = new float[rows * ne];
        float[] maps = new float[2 * ne * di];
        List<Term.Source> decaySources = new ArrayList<>();
        List<Term.Source> mapSources = new ArrayList<>();
        int first = 0;
        for (var e : pieces) {
            int w = e.width();
            float[] a = e.logDecay().data();
            for (int d = 0; d < rows; d++) {
                System.arraycopy(a, d * w, logDecay, d * ne + first, w);
            }
            decaySources.add(new Term.Source(e.logDecay(), first, rows, w, ne));
            System.arraycopy(e.inputMap().data(), 0, maps, first * di, w * di);
            System.arraycopy(e.readOut().data(), 0, maps, (ne + first) * di, w * di);
            mapSources.add(new Term.Source(e.inputMap(), first * di, 1, w * di, w * di));
            mapSources.add(new Term.Source(e.readOut(), (ne + first) * di, 1, w * di, w * di));
            first += w;
        }
        String where = " of the state extension of layer " + layer;
        return new Extension(ne, new Term("a'" + where, logDecay, new int[] {rows, ne}, decaySources),
                new Term("[E_B; E_C]" + where, maps, new int[] {2 * ne, di}, mapSources));
    }

    static String who(Adapter a) {
        return "adapter '" + a.name() + "' (" + a.method() + ")";
    }

    /** Summands of one shape, each checked. */
    private static final class Sum {
        private final String what;
        private final int[] shape;
        private final List<Tensor> parts = new ArrayList<>();

        Sum(String what, int... shape) {
            this.what = what;
            this.shape = shape;
        }

        void add(Adapter a, Tensor t) {
            if (t.size() != Arrays.stream(shape).asLongStream().reduce(1, (x, y) -> x * y)) {
                throw new IllegalArgumentException(who(a) + " hands a " + what + " of shape "
                        + Tensor.format(t.shape()) + "; expected " + Tensor.format(shape));
            }
            parts.add(t);
        }

        Term term() {
            if (parts.isEmpty()) {
                return null;
            }
            float[] sum = parts.get(0).data().clone();
            for (int i = 1; i < parts.size(); i++) {
                float[] d = parts.get(i).data();
                for (int j = 0; j < sum.length; j++) {
                    sum[j] += d[j];
                }
            }
            return new Term(what, sum, shape, parts.stream().map(Term.Source::whole).toList());
        }
    }

    /** Row blocks of one width, concatenated in stack order. */
    private static final class Concat {
        private final String what;
        private final int width;
        private final List<Tensor> parts = new ArrayList<>();
        private int rows;

        Concat(String what, int width) {
            this.what = what;
            this.width = width;
        }

        void add(Adapter a, Tensor t, int n) {
            if (t.size() != (long) n * width) {
                throw new IllegalArgumentException(who(a) + " hands a " + what + " of shape "
                        + Tensor.format(t.shape()) + "; expected " + Tensor.format(n, width));
            }
            parts.add(t);
            rows += n;
        }

        Term term() {
            if (parts.isEmpty()) {
                return null;
            }
            float[] all = new float[rows * width];
            List<Term.Source> sources = new ArrayList<>();
            int at = 0;
            for (Tensor t : parts) {
                System.arraycopy(t.data(), 0, all, at, t.size());
                sources.add(new Term.Source(t, at, 1, t.size(), t.size()));
                at += t.size();
            }
            return new Term(what, all, new int[] {rows, width}, sources);
        }
    }
}
