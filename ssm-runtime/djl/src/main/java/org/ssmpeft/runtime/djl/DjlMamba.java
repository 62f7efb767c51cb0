package org.ssmpeft.runtime.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.HostStateModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.PlanGradients;
import org.ssmpeft.runtime.plan.Term;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.checkpoint.CheckpointException;
import org.ssmpeft.runtime.checkpoint.Checkpoints;
import org.ssmpeft.runtime.checkpoint.LanguageModelConfig;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The Mamba-1 and Mamba-2 language models ({@code MambaForCausalLM}, {@code Mamba2ForCausalLM}; DESIGN.md §3)
 * written with DJL NDArray operations on the
 * PyTorch engine, float32 on the CPU, with every hook of an {@link AdapterSet} applied as plain NDArray code and
 * gradients by DJL autograd. It is the reference the other backends are checked against, and the place to try a new
 * hook ({@link DjlHook}) without writing a backward pass. Symbols: B batch, L length, P virtual tokens, d d_model,
 * D d_inner, N d_state, R dt_rank, K conv kernel, V vocab.
 *
 * <p>Per Mamba-1 block, with the hooks where they act:
 * <pre>
 *   r = u;  u = RMSNorm(u)
 *   [x, z] = in_proj(u)                          + Σ s·B(A u) on rows rowOffset..      (projection hook)
 *   x = [P_l; x]                                 prefix tokens (input hook, LAYER), fresh cache only
 *   x = silu(causal_depthwise_conv1d(x) + conv_bias)
 *   [dt_low, Bm, Cm] = x_proj(x)                 + low-rank deltas
 *   dt = softplus(dt_proj(dt_low))               + low-rank deltas inside the softplus
 *   A = -exp(A_log)
 *   A = [A | -exp(a')], Bm = [Bm | E_B x], Cm = [Cm | E_C x]   state extensions (concatenated), state N + n'
 *   h_t = exp(dt_t A) h_{t-1} + (dt_t Bm_t) x_t, h_{-1} = cache state (+ Σ h0 on a fresh cache)
 *   y = (Cm·h + D x + Cm·Σh' + Σy') ⊙ silu(z)    the prefix positions dropped
 *   y = djlHook.ssmOutput(y)                     for each acting {@link DjlHook}
 *   out = out_proj(y) + r                        + low-rank deltas
 * </pre>
 * Per Mamba-2 block (H heads of P channels, G groups sharing B and C, C = D + 2GN conv channels, W = D + C + H):
 * <pre>
 *   u = RMSNorm(r);  [z | xBC | dt] = in_proj(u)         + low-rank deltas                  (B, L, W)
 *   [xBC | dt] = [P_l; xBC | dt]                         prefix tokens, fresh cache only
 *   [x | Bm | Cm] = silu(causal_depthwise_conv1d(xBC) + conv_bias)
 *   Δ = clamp(softplus(dt + dt_bias), time_step_limit);  A = -exp(A_log), one per head
 *   h_t = exp(Δ_t A) h_{t-1} + Δ_t x_t ⊗ Bm_t             per head, sequential; head h reads group h / (H/G)
 *   y = Cm·h + D x + Cm·Σh' + Σy'                        h0, h' (H, P, N), y' (D); the prefix positions dropped
 *   y = w ⊙ g / sqrt(mean_group(g²) + eps),  g = y ⊙ silu(z)   the gated RMSNorm over groups of normGroupSize
 *   y = djlHook.ssmOutput(y);  out = out_proj(y) + r
 * </pre>
 * The clamp acts in the decoding step too (a step is the forward of one token), as in the cpu backend. A state
 * extension (additional-scan) acts per head on Mamba-2 ({@link org.ssmpeft.api.hooks.StateExtensionHook}): its own
 * sequential scan of (B, H, P, n') beside the base one, read out before the gated norm.
 *
 * <p>In both families the blocks are followed by norm_f and the head (tied to the embedding or not, with low-rank
 * deltas). Prompt tuning prepends its
 * virtual embeddings to the token embeddings on a fresh cache, and logits are returned for all P + L positions.
 * Parameter hooks give {@code θ = θ_base + Σ Δθ} by Hugging Face name; contributions of all acting adapters add up.
 *
 * <p>Every call works in its own {@link NDManager} and {@link NDScope}, closed before it returns: results leave as
 * Java arrays and {@link Tensor}s, the recurrent state as a {@link HostState} owned by this backend (written only once a call
 * succeeded; PyTorch runs on the CPU here, so the state lives on the host), and no native memory survives a call but the weights, freed by {@link #close}. Registered as the
 * {@code djl} backend by {@link DjlBackendProvider}. Thread-safe for forward passes; gradient passes are serialised
 * (DJL allows one gradient collector at a time).
 */
public final class DjlMamba implements HostStateModel, AutoCloseable {

    private static final Object GRADIENT_LOCK = new Object();

    private final LanguageModelConfig config;
    private final LanguageModelWeights<?> weights;
    private final NDManager manager;
    private final Map<String, float[]> baseValues = new LinkedHashMap<>();
    private final Map<String, Shape> baseShapes = new LinkedHashMap<>();
    private final Map<String, NDArray> baseArrays = new HashMap<>();
    private final String headName;

    /** Copies the weights into native memory of the PyTorch engine; fails when the engine cannot load. */
    public DjlMamba(MambaWeights weights) {
        this((LanguageModelWeights<?>) weights);
    }

    /** A Mamba-2 model; copies the weights into native memory of the PyTorch engine. */
    public DjlMamba(Mamba2Weights weights) {
        this((LanguageModelWeights<?>) weights);
    }

    private DjlMamba(LanguageModelWeights<?> weights) {
        this.config = weights.config();
        this.weights = weights;
        this.manager = DjlEngine.newManager();
        // every parameter by its Hugging Face name and stored shape (conv1d (C, 1, K)); a tied head is the embedding
        weights.parameters().forEach((name, t) -> add(name, t.data(), Arrays.stream(t.shape()).asLongStream()
                .toArray()));
        headName = config.tieWordEmbeddings() ? LanguageModelWeights.EMBEDDING : LanguageModelWeights.LM_HEAD;
    }

    /** The model of either family for {@code spec}; fails naming the spec for any other. */
    static DjlMamba of(ModelSpec spec) {
        return switch (spec) {
            case MambaWeights w -> new DjlMamba(w);
            case Mamba2Weights w -> new DjlMamba(w);
            default -> throw new IllegalArgumentException("the djl backend builds models from MambaWeights or"
                    + " Mamba2Weights, found " + spec.getClass().getName() + " (" + spec.describe() + ")");
        };
    }

    /** Loads a Hugging Face (or state-spaces) Mamba-1 or Mamba-2 checkpoint directory. */
    public static DjlMamba load(Path checkpointDir) throws CheckpointException {
        return of(Checkpoints.load(checkpointDir));
    }

    @Override
    public String backend() {
        return DjlBackendProvider.NAME;
    }

    public LanguageModelConfig config() {
        return config;
    }

    @Override
    public LanguageModelWeights<?> spec() {
        return weights;
    }

    /** The base parameters by Hugging Face name, in checkpoint order (the tied head has no name of its own). */
    public List<String> parameterNames() {
        return List.copyOf(baseValues.keySet());
    }

    private HostState own(SsmState state, int[][] tokens) {
        HostState h = own(state, tokens.length);
        HookPlan.checkTokens(tokens, tokens.length, config.vocabSize());
        return h;
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        HostState cache = own(state, tokens);
        HookPlan plan = HookPlan.resolve(weights, adapters, cache.isFresh());
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, plan, Set.of(), false), tokens, cache);
            Logits logits = f.logits(tokens.length);
            f.commit(cache);
            return logits;
        }
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        HostState cache = own(newState(tokens.length), tokens);
        HookPlan plan = HookPlan.resolve(weights, adapters, true);
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, plan, Set.of(), false), tokens, cache);
            return f.hidden.stream().map(NDArray::toFloatArray).toList();
        }
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        HostState cache = own(newState(tokens.length), tokens);
        HookPlan plan = HookPlan.resolve(weights, adapters, true);
        int[] targets = plan.targets(tokens, labels);
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, plan, Set.of(), false), tokens, cache);
            return crossEntropy(m, f.logits, targets).getFloat();
        }
    }

    /**
     * The loss and its gradients by autograd: with respect to every term of the hook plan (including the tensors a
     * {@link DjlHook} read through its site), routed to the adapters' parameters by the plan, and with respect to the
     * base parameters named in {@code trainableBaseNames}.
     */
    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        HostState cache = own(newState(tokens.length), tokens);
        HookPlan plan = HookPlan.resolve(weights, adapters, true);
        plan.gradientBaseNames(trainableBaseNames);
        int[] targets = plan.targets(tokens, labels);
        synchronized (GRADIENT_LOCK) {
            try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope();
                 GradientCollector collector = DjlEngine.pytorch().newGradientCollector()) {
                scope.suppressNotUsedWarning();
                Pass p = new Pass(m, plan, trainableBaseNames, true);
                Forward f = run(p, tokens, cache);
                NDArray loss = crossEntropy(m, f.logits, targets);
                if (p.hasLeaves()) { // else nothing to differentiate
                    collector.backward(loss);
                }
                PlanGradients g = new PlanGradients();
                p.termLeaves.forEach((t, nd) -> g.add(t, gradient(nd)));
                p.directLeaves.forEach((t, nd) -> g.addDirect(t, gradient(nd)));
                // dL/dθ: a parameter delta's gradient is its parameter's (θ = θ_base + ΣΔθ)
                p.deltaLeaves.forEach((name, nd) -> g.putBase(name, gradient(nd)));
                p.trainableLeaves.forEach((name, nd) -> g.putBase(name, gradient(nd)));
                return plan.result(loss.getFloat(), HookPlan.targetCount(targets), f.logits(tokens.length), g,
                        trainableBaseNames);
            }
        }
    }

    /** Native arrays held between calls (the weights); tests check that calls leave none behind. */
    int nativeArrayCount() {
        return manager.getManagedArrays().size();
    }

    /** Frees the native copies of the weights. */
    @Override
    public void close() {
        manager.close();
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static String layerName(int layer, String suffix) {
        return "backbone.layers." + layer + "." + suffix;
    }

    private static String mixerName(int layer, String suffix) {
        return layerName(layer, "mixer." + suffix);
    }

    private void add(String name, float[] values, long... shape) {
        Shape s = new Shape(shape);
        if (s.size() != values.length) {
            throw new IllegalArgumentException("base parameter " + name + ": " + values.length + " values for shape "
                    + s);
        }
        baseValues.put(name, values);
        baseShapes.put(name, s);
        baseArrays.put(name, manager.create(values, s));
    }

    private static int[] toInts(Shape s) {
        return Arrays.stream(s.getShape()).mapToInt(Math::toIntExact).toArray();
    }

    /** dL/d(leaf); DJL starts every leaf's gradient at zero, so a leaf that did not reach the loss gives zeros. */
    private static float[] gradient(NDArray leaf) {
        return leaf.getGradient().toFloatArray();
    }

    /** The hook plan of one call, its terms as NDArrays, and the effective base parameters. */
    private final class Pass {
        final NDManager m;
        final boolean training;
        final HookPlan plan;
        final Set<String> trainable;
        final Map<Term, NDArray> termLeaves = new LinkedHashMap<>();
        final IdentityHashMap<Tensor, NDArray> directLeaves = new IdentityHashMap<>();
        final Map<String, NDArray> deltaLeaves = new LinkedHashMap<>();
        final Map<String, NDArray> trainableLeaves = new LinkedHashMap<>();
        final Map<String, NDArray> effective = new HashMap<>();
        final List<DjlHook> djlHooks;

        Pass(NDManager m, HookPlan plan, Set<String> trainable, boolean training) {
            this.m = m;
            this.plan = plan;
            this.trainable = trainable;
            this.training = training;
            this.djlHooks = plan.acting().stream().filter(DjlHook.class::isInstance).map(DjlHook.class::cast)
                    .toList();
        }

        boolean hasLeaves() {
            return !termLeaves.isEmpty() || !directLeaves.isEmpty() || !deltaLeaves.isEmpty()
                    || !trainableLeaves.isEmpty();
        }

        private NDArray array(float[] values, int[] shape) {
            NDArray a = m.create(values, new Shape(Arrays.stream(shape).asLongStream().toArray()));
            if (training) {
                a.setRequiresGradient(true);
            }
            return a;
        }

        /** A term of the plan as a float32 array; a leaf that requires a gradient when training. */
        NDArray leaf(Term t) {
            return termLeaves.computeIfAbsent(t, x -> array(x.value(), x.shape()));
        }

        /** An adapter tensor a {@link DjlHook} reads directly; a leaf when training. */
        NDArray direct(Tensor t) {
            return directLeaves.computeIfAbsent(t, x -> array(x.data(), x.shape()));
        }

        /** θ = θ_base (a leaf when trainable) + ΣΔθ of the plan. */
        NDArray param(String name) {
            NDArray cached = effective.get(name);
            if (cached != null) {
                return cached;
            }
            NDArray theta;
            if (trainable.contains(name)) {
                theta = m.create(baseValues.get(name), baseShapes.get(name));
                theta.setRequiresGradient(true);
                trainableLeaves.put(name, theta);
            } else {
                theta = baseArrays.get(name);
            }
            Term delta = plan.parameterDeltas().get(name);
            if (delta != null) {
                NDArray d = deltaLeaves.computeIfAbsent(name, k -> array(delta.value(), delta.shape()));
                theta = theta.add(d);
            }
            effective.put(name, theta);
            return theta;
        }

        Optional<NDArray> param(String name, boolean present) {
            return present ? Optional.of(param(name)) : Optional.empty();
        }

        Optional<NDArray> leaf(Optional<Term> t) {
            return t.map(this::leaf);
        }

        /**
         * A scalar of the call, open until the call ends. Never use DJL's {@code array.op(Number)} here: on the
         * PyTorch engine it wraps the number in a tensor over a direct buffer and closes it at once, yet autograd
         * keeps that tensor for the backward pass (mul, div), which then reads freed memory.
         */
        NDArray constant(float value) {
            return m.create(value);
        }
    }

    /** The arrays of one forward, and the cache states to commit once it succeeded. */
    private final class Forward {
        NDArray logits;
        int length;
        int virtualTokens;
        final List<NDArray> hidden = new ArrayList<>();
        final float[][] conv = new float[config.layers()][];
        final float[][] ssm = new float[config.layers()][];
        final float[][] extra = new float[config.layers()][];

        Logits logits(int batch) {
            return new Logits(logits.toFloatArray(), batch, length, config.vocabSize(), virtualTokens);
        }

        void commit(HostState cache) {
            for (int i = 0; i < conv.length; i++) {
                System.arraycopy(conv[i], 0, cache.convState(i), 0, conv[i].length);
                System.arraycopy(ssm[i], 0, cache.ssmState(i), 0, ssm[i].length);
                if (extra[i] != null) {
                    System.arraycopy(extra[i], 0, cache.extraState(i), 0, extra[i].length);
                }
            }
            cache.advance(length);
        }
    }

    private Forward run(Pass p, int[][] tokens, HostState cache) {
        NDManager m = p.m;
        int batch = tokens.length;
        int len = tokens[0].length;
        int dm = config.dModel();
        cache.requireExtraState(p.plan.extraStateWidths());
        long[] ids = new long[batch * len];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                ids[b * len + t] = tokens[b][t];
            }
        }
        // embeddings: rows of (V, d) picked by the ids -> (B, L, d)
        NDArray h = p.param(LanguageModelWeights.EMBEDDING).get(m.create(ids, new Shape(ids.length)))
                .reshape(batch, len, dm);
        Optional<Term> prompt = p.plan.prompt();
        if (prompt.isPresent()) {
            // e' = [P; E(x)]: (B, P + L, d)
            int n = p.plan.promptLength();
            h = p.leaf(prompt.get()).expandDims(0).broadcast(batch, n, dm).concat(h, 1);
        }
        Forward f = new Forward();
        f.length = Math.toIntExact(h.getShape().get(1));
        f.virtualTokens = f.length - len;
        for (int i = 0; i < config.layers(); i++) {
            h = switch (weights) {
                case MambaWeights w -> block(w.config(), p, i, h, cache, f);
                case Mamba2Weights w -> block2(w.config(), p, i, h, cache, f);
                default -> throw new IllegalStateException("no block for " + weights.family());
            };
            f.hidden.add(h);
        }
        NDArray normed = rmsNorm(p, h, p.param(LanguageModelWeights.NORM_F));
        f.hidden.add(normed);
        // logits = norm_f(h) · headᵀ (+ low-rank deltas): (B, L', V)
        f.logits = linear(p, normed, p.param(headName), Optional.empty(), p.plan.head(),
                "head");
        return f;
    }

    // One Mamba-1 block: (B, L', d) -> (B, L', d); the layer's final conv and SSM states go to f.
    private NDArray block(MambaConfig c, Pass p, int layer, NDArray residual, HostState cache, Forward f) {
        NDManager m = p.m;
        long batch = residual.getShape().get(0);
        long len = residual.getShape().get(1);
        int di = c.dInner();
        int n = c.dState();
        int r = c.dtRank();
        int k = c.convKernel();

        NDArray u = rmsNorm(p, residual, p.param(layerName(layer, "norm.weight")));
        // [x | z] = in_proj(u): (B, L', 2D)
        NDArray xz = linear(p, u, p.param(mixerName(layer, "in_proj.weight")),
                p.param(mixerName(layer, "in_proj.bias"), c.useBias()), p.plan.layer(layer).deltas("in_proj"),
                "in_proj of layer " + layer);
        NDArray x = xz.get(":, :, 0:" + di);
        NDArray z = xz.get(":, :, " + di + ":");

        // prefix tuning: x = [P_l; x] (B, n + L', D); their gate would be 0, so their outputs are dropped below
        int prefix = p.plan.layer(layer).prefixLength();
        if (prefix > 0) {
            NDArray virtual = p.leaf(p.plan.layer(layer).prefix().orElseThrow());
            x = virtual.expandDims(0).broadcast(batch, prefix, di).concat(x, 1);
        }
        long lt = len + prefix;

        NDArray xc = convSilu(p, layer, x, cache, c.useConvBias(), k, f); // (B, L'', D)

        // [dt_low | Bm | Cm] = x_proj(x): (B, L'', R + 2N)
        NDArray xdbl = linear(p, xc, p.param(mixerName(layer, "x_proj.weight")), Optional.empty(),
                p.plan.layer(layer).deltas("x_proj"), "x_proj of layer " + layer);
        NDArray dtLow = xdbl.get(":, :, 0:" + r);
        NDArray bm = xdbl.get(":, :, " + r + ":" + (r + n));
        NDArray cm = xdbl.get(":, :, " + (r + n) + ":");
        // dt = softplus(dt_proj(dt_low) + bias): (B, L'', D)
        NDArray dt = Activation.softPlus(linear(p, dtLow, p.param(mixerName(layer, "dt_proj.weight")),
                Optional.of(p.param(mixerName(layer, "dt_proj.bias"))), p.plan.layer(layer).deltas("dt_proj"),
                "dt_proj of layer " + layer));
        NDArray a = p.param(mixerName(layer, "A_log")).exp().neg(); // (D, N)
        // state extensions (additional-scan), as the reference runs them: one scan of width N + n' with
        // A = [A | -exp(a')], Bm = [Bm | x E_Bᵀ], Cm = [Cm | x E_Cᵀ]; the last n' state columns are the cache's extra state
        int ne = 0;
        NDArray cmScan = cm;
        Optional<HookPlan.Extension> ext = p.plan.layer(layer).extension();
        if (ext.isPresent()) {
            ne = ext.get().width();
            NDArray maps = p.leaf(ext.get().maps()); // (2n', D): [E_B; E_C]
            a = a.concat(p.leaf(ext.get().logDecay()).exp().neg(), 1);
            bm = bm.concat(xc.matMul(maps.get("0:" + ne + ", :").transpose()), 2);
            cmScan = cmScan.concat(xc.matMul(maps.get(ne + ":, :").transpose()), 2);
        }

        // selective scan, sequential over time as transformers' slow path:
        // h_t = exp(dt_t A) ⊙ h_{t-1} + (dt_t Bm_t) x_t,  y_t = h_t · Cm_t
        NDArray decay = dt.expandDims(3).mul(a).exp();                              // (B, L'', D, N)
        NDArray input = dt.expandDims(3).mul(bm.expandDims(2)).mul(xc.expandDims(3)); // (B, L'', D, N)
        NDArray state;
        state = m.create(cache.ssmState(layer), new Shape(batch, di, n));
        Optional<NDArray> h0 = p.leaf(p.plan.layer(layer).initialState());
        if (h0.isPresent()) {
            state = state.add(h0.get()); // h_{-1} = h_state + Σh0 (the fresh state is zero unless imported)
        }
        if (ne > 0) {
            state = state.concat(m.create(cache.extraState(layer), new Shape(batch, di, ne)), 2); // (B, D, N + n')
        }
        NDList states = new NDList(Math.toIntExact(lt));
        for (long t = 0; t < lt; t++) {
            state = decay.get(":, " + t).mul(state).add(input.get(":, " + t));
            states.add(state);
        }
        f.ssm[layer] = (ne > 0 ? state.get(":, :, 0:" + n) : state).toFloatArray();
        if (ne > 0) {
            f.extra[layer] = state.get(":, :, " + n + ":").toFloatArray();
        }
        NDArray y = NDArrays.stack(states, 1).mul(cmScan.expandDims(2)).sum(new int[] {3}); // (B, L'', D)
        y = y.add(xc.mul(p.param(mixerName(layer, "D"))));
        // state offset: + Cm_t · h' (B, L'', N) x (N, D); output offset: + y'
        Optional<NDArray> hOffset = p.leaf(p.plan.layer(layer).stateOffset());
        if (hOffset.isPresent()) {
            y = y.add(cm.matMul(hOffset.get().transpose()));
        }
        Optional<NDArray> yOffset = p.leaf(p.plan.layer(layer).outputOffset());
        if (yOffset.isPresent()) {
            y = y.add(yOffset.get());
        }
        NDArray xReal = xc;
        if (prefix > 0) {
            y = y.get(":, " + prefix + ":, :");
            xReal = xc.get(":, " + prefix + ":, :");
        }
        y = y.mul(silu(z)); // (B, L', D)

        return outProjResidual(p, layer, djlHooks(p, layer, y, xReal, z), residual, c.useBias());
    }

    // One Mamba-2 block: (B, L', d) -> (B, L', d); the layer's final conv and SSM states go to f.
    private NDArray block2(Mamba2Config c, Pass p, int layer, NDArray residual, HostState cache, Forward f) {
        NDManager m = p.m;
        long batch = residual.getShape().get(0);
        long len = residual.getShape().get(1);
        int di = c.dInner();
        int cd = c.convDim();
        int heads = c.heads();
        int hp = c.headDim();
        int gn = c.groups() * c.dState();
        int n = c.dState();
        int k = c.convKernel();
        HookPlan.Layer hooks = p.plan.layer(layer);

        NDArray u = rmsNorm(p, residual, p.param(layerName(layer, "norm.weight")));
        // [z | xBC | dt] = in_proj(u): (B, L', W)
        NDArray proj = linear(p, u, p.param(mixerName(layer, "in_proj.weight")),
                p.param(mixerName(layer, "in_proj.bias"), c.useBias()), hooks.deltas("in_proj"),
                "in_proj of layer " + layer);
        NDArray z = proj.get(":, :, 0:" + di);
        NDArray xbcdt = proj.get(":, :, " + di + ":");
        // prefix tuning: [xBC | dt] = [P_l; xBC | dt] (B, n + L', C + H); their outputs are dropped below
        int prefix = hooks.prefixLength();
        if (prefix > 0) {
            NDArray virtual = p.leaf(hooks.prefix().orElseThrow());
            xbcdt = virtual.expandDims(0).broadcast(batch, prefix, cd + heads).concat(xbcdt, 1);
        }
        long lt = len + prefix;

        NDArray xbc = convSilu(p, layer, xbcdt.get(":, :, 0:" + cd), cache, c.useConvBias(), k, f); // (B, L'', C)

        // x (B, L'', H, P); Bm, Cm (B, L'', G, N) -> (B, L'', H, N), group g serving heads g·H/G .. (g+1)·H/G - 1
        NDArray x = xbc.get(":, :, 0:" + di).reshape(batch, lt, heads, hp);
        int perGroup = heads / c.groups();
        NDArray bm = xbc.get(":, :, " + di + ":" + (di + gn)).reshape(batch, lt, c.groups(), n).repeat(2, perGroup);
        NDArray cm = xbc.get(":, :, " + (di + gn) + ":").reshape(batch, lt, c.groups(), n).repeat(2, perGroup);
        // Δ = clamp(softplus(dt + dt_bias), lo, hi): (B, L'', H); the clamp passes the gradient inside [lo, hi]
        NDArray dt = Activation.softPlus(xbcdt.get(":, :, " + cd + ":").add(p.param(mixerName(layer, "dt_bias"))));
        if (c.clampsTimeStep()) {
            double hi = c.timeStepLimitMax() == Double.POSITIVE_INFINITY ? Float.MAX_VALUE : c.timeStepLimitMax();
            dt = dt.clip(c.timeStepLimitMin(), hi);
        }
        NDArray a = p.param(mixerName(layer, "A_log")).exp().neg(); // (H)

        // the scan, sequential over time: h_t = exp(Δ_t A) h_{t-1} + Δ_t x_t ⊗ Bm_t (B, H, P, N), y_t = h_t · Cm_t
        NDArray decay = dt.mul(a).exp().reshape(batch, lt, heads, 1, 1);
        NDArray input = dt.reshape(batch, lt, heads, 1, 1).mul(x.expandDims(4)).mul(bm.expandDims(3));
        NDArray state = m.create(cache.ssmState(layer), new Shape(batch, heads, hp, n));
        Optional<NDArray> h0 = p.leaf(hooks.initialState());
        if (h0.isPresent()) {
            // h_{-1} = h_state + Σh0, the plan's (D, N) read as (H, P, N) (the fresh state is zero unless imported)
            state = state.add(h0.get().reshape(heads, hp, n));
        }
        NDList states = new NDList(Math.toIntExact(lt));
        for (long t = 0; t < lt; t++) {
            state = decay.get(":, " + t).mul(state).add(input.get(":, " + t));
            states.add(state);
        }
        f.ssm[layer] = state.toFloatArray();
        NDArray cmh = cm.expandDims(3); // (B, L'', H, 1, N)
        NDArray y = NDArrays.stack(states, 1).mul(cmh).sum(new int[] {4}); // (B, L'', H, P)
        // state extension (additional-scan) per head: A' = -exp(a') (H, n'), [B' | C'] = x·[E_B; E_C]ᵀ (n' each, shared
        // by the heads), h'_t = exp(Δ_t A') ⊙ h'_{t-1} + Δ_t x_t ⊗ B'_t (B, H, P, n'), y += h'_t · C'_t
        Optional<HookPlan.Extension> ext = hooks.extension();
        if (ext.isPresent()) {
            int ne = ext.get().width();
            NDArray maps = p.leaf(ext.get().maps()); // (2n', D)
            NDArray xFlat = xbc.get(":, :, 0:" + di);  // (B, L'', D)
            NDArray bExt = xFlat.matMul(maps.get("0:" + ne + ", :").transpose()).reshape(batch, lt, 1, 1, ne);
            NDArray cExt = xFlat.matMul(maps.get(ne + ":, :").transpose()).reshape(batch, lt, 1, 1, ne);
            NDArray aExt = p.leaf(ext.get().logDecay()).exp().neg(); // (H, n')
            NDArray decayExt = dt.reshape(batch, lt, heads, 1).mul(aExt).exp().reshape(batch, lt, heads, 1, ne);
            NDArray inputExt = dt.reshape(batch, lt, heads, 1, 1).mul(x.expandDims(4)).mul(bExt);
            NDArray extState = m.create(cache.extraState(layer), new Shape(batch, heads, hp, ne));
            NDList extStates = new NDList(Math.toIntExact(lt));
            for (long t = 0; t < lt; t++) {
                extState = decayExt.get(":, " + t).mul(extState).add(inputExt.get(":, " + t));
                extStates.add(extState);
            }
            f.extra[layer] = extState.toFloatArray();
            y = y.add(NDArrays.stack(extStates, 1).mul(cExt).sum(new int[] {4}));
        }
        y = y.add(x.mul(p.param(mixerName(layer, "D")).reshape(heads, 1)));
        // state offset: + Σ_n Cm[g(h), n] h'[h, p, n]; output offset: + y' (D)
        Optional<NDArray> hOffset = p.leaf(hooks.stateOffset());
        if (hOffset.isPresent()) {
            y = y.add(cmh.mul(hOffset.get().reshape(heads, hp, n)).sum(new int[] {4})); // h' (D, N) as (H, P, N)
        }
        y = y.reshape(batch, lt, di);
        Optional<NDArray> yOffset = p.leaf(hooks.outputOffset());
        if (yOffset.isPresent()) {
            y = y.add(yOffset.get());
        }
        NDArray xReal = xbc.get(":, :, 0:" + di);
        if (prefix > 0) {
            y = y.get(":, " + prefix + ":, :");
            xReal = xReal.get(":, " + prefix + ":, :");
        }

        // gated RMSNorm: g = y ⊙ silu(z), w ⊙ g / sqrt(mean(g²) + eps) over groups of normGroupSize channels
        int gs = c.normGroupSize();
        NDArray g = y.mul(silu(z)).reshape(batch, len, di / gs, gs);
        NDArray variance = g.square().mean(new int[] {-1}, true);
        y = g.div(variance.add(p.constant((float) c.layerNormEpsilon())).sqrt()).reshape(batch, len, di)
                .mul(p.param(mixerName(layer, "norm.weight")));

        return outProjResidual(p, layer, djlHooks(p, layer, y, xReal, z), residual, c.useBias());
    }

    // causal depthwise conv over [conv state; x] (B, L'', C): out_t = Σ_k w[:, k] ⊙ xpad_{t+k} + bias, then SiLU;
    // the last K inputs become the layer's conv state (B, C, K) in f
    private NDArray convSilu(Pass p, int layer, NDArray x, HostState cache, boolean bias, int k, Forward f) {
        long batch = x.getShape().get(0);
        long lt = x.getShape().get(1);
        long channels = x.getShape().get(2);
        NDArray previous = p.m.create(cache.convState(layer), new Shape(batch, channels, k)).transpose(0, 2, 1);
        NDArray padded = previous.concat(x, 1); // (B, K + L'', C)
        NDArray w = p.param(mixerName(layer, "conv1d.weight")).reshape(channels, k);
        NDArray conv = null;
        for (int j = 0; j < k; j++) {
            // window j of the K - 1 previous inputs and the new ones: rows 1 + j .. 1 + j + L'' - 1
            NDArray term = padded.get(":, " + (1 + j) + ":" + (1 + j + lt) + ", :").mul(w.get(":, " + j));
            conv = conv == null ? term : conv.add(term);
        }
        if (bias) {
            conv = conv.add(p.param(mixerName(layer, "conv1d.bias")));
        }
        f.conv[layer] = padded.get(":, " + lt + ":, :").transpose(0, 2, 1).toFloatArray();
        return silu(conv);
    }

    // y = djlHook.ssmOutput(y) for each acting DjlHook, in stack order; y, x and z of the real tokens (B, L, D)
    private static NDArray djlHooks(Pass p, int layer, NDArray y, NDArray xReal, NDArray z) {
        if (p.djlHooks.isEmpty()) {
            return y;
        }
        BlockSite site = new BlockSite(p, xReal, z);
        for (DjlHook hook : p.djlHooks) {
            NDArray next = hook.ssmOutput(layer, y, site);
            if (!next.getShape().equals(y.getShape())) {
                throw new IllegalArgumentException("DjlHook of adapter '" + ((Adapter) hook).name()
                        + "' returned shape " + next.getShape() + " in layer " + layer + "; expected "
                        + y.getShape());
            }
            y = next;
        }
        return y;
    }

    // out = out_proj(y) (+ bias, + low-rank deltas) + residual: (B, L', D) -> (B, L', d)
    private static NDArray outProjResidual(Pass p, int layer, NDArray y, NDArray residual, boolean bias) {
        NDArray out = linear(p, y, p.param(mixerName(layer, "out_proj.weight")),
                p.param(mixerName(layer, "out_proj.bias"), bias), p.plan.layer(layer).deltas("out_proj"),
                "out_proj of layer " + layer);
        return residual.add(out);
    }

    /** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) ⊙ weight. */
    private NDArray rmsNorm(Pass p, NDArray x, NDArray weight) {
        NDArray variance = x.square().mean(new int[] {-1}, true);
        return x.div(variance.add(p.constant((float) config.layerNormEpsilon())).sqrt()).mul(weight);
    }

    private static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /**
     * x Wᵀ (+ bias) + Σ s·(x Aᵀ) Bᵀ, each delta on output rows rowOffset .. rowOffset + B.rows - 1.
     * x: (..., in), W: (out, in) -> (..., out).
     */
    private static NDArray linear(Pass p, NDArray x, NDArray w, Optional<NDArray> bias, List<HookPlan.LowRank> deltas,
                                  String what) {
        NDArray y = x.matMul(w.transpose());
        if (bias.isPresent()) {
            y = y.add(bias.get());
        }
        long out = w.getShape().get(0);
        for (HookPlan.LowRank d : deltas) { // shapes checked by the plan
            NDArray a = p.leaf(d.a());
            NDArray b = p.leaf(d.b());
            NDArray delta = x.matMul(a.transpose()).mul(p.constant(d.scale())).matMul(b.transpose()); // (..., rows)
            if (d.dora().isPresent()) {
                // DoRA: (m/n − 1) ⊙ x·W[rows]ᵀ + (m/n) ⊙ delta, n = ||W[rows] + s·B·A|| per row, a constant as in
                // PEFT (detached); the plan's n, so that m = ||W|| gives m/n = 1 exactly, as on cpu
                NDArray rows = w.get(d.rowOffset() + ":" + (d.rowOffset() + d.out())); // (rows, in)
                NDArray norm = p.m.create(d.dora().get().norm());
                NDArray gain = p.leaf(d.dora().get().magnitude()).div(norm); // (rows)
                delta = x.matMul(rows.transpose()).mul(gain.sub(p.constant(1f))).add(delta.mul(gain));
            }
            if (d.out() != out) {
                delta = padColumns(p.m, delta, d.rowOffset(), out - d.rowOffset() - d.out());
            }
            y = y.add(delta);
        }
        return y;
    }

    /** [0 (before) | a | 0 (after)] along the last axis. */
    private static NDArray padColumns(NDManager m, NDArray a, long before, long after) {
        long[] dims = a.getShape().getShape();
        NDList parts = new NDList();
        if (before > 0) {
            long[] s = dims.clone();
            s[s.length - 1] = before;
            parts.add(m.zeros(new Shape(s), DataType.FLOAT32));
        }
        parts.add(a);
        if (after > 0) {
            long[] s = dims.clone();
            s[s.length - 1] = after;
            parts.add(m.zeros(new Shape(s), DataType.FLOAT32));
        }
        return NDArrays.concat(parts, dims.length - 1);
    }

    /**
     * Mean cross-entropy over the positions with a target (the plan's next-token targets, (B·L')); 0 without any,
     * and so are its gradients (LossAndGradients' contract). logits: (B, L', V).
     */
    private NDArray crossEntropy(NDManager m, NDArray logits, int[] targets) {
        int v = config.vocabSize();
        long[] target = new long[targets.length];
        float[] mask = new float[targets.length];
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] != IGNORE_INDEX) {
                target[i] = targets[i];
                mask[i] = 1f;
            }
        }
        int count = HookPlan.targetCount(targets);
        NDArray logp = logits.logSoftmax(2).reshape(targets.length, v);
        NDArray picked = logp.gather(m.create(target, new Shape(target.length, 1)), 1).reshape(target.length);
        return picked.mul(m.create(mask, new Shape(mask.length))).sum().neg()
                .div(m.create((float) Math.max(count, 1)));
    }

    /** The {@link DjlHook.Site} of one block. */
    private record BlockSite(Pass pass, NDArray ssmInput, NDArray gate) implements DjlHook.Site {
        @Override
        public NDManager manager() {
            return pass.m;
        }

        @Override
        public NDArray parameter(Tensor tensor) {
            return pass.direct(tensor);
        }
    }
}
