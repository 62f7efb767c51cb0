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
import java.util.function.Function;
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
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.MambaCache;
import org.ssmpeft.runtime.backend.MambaModel;
import org.ssmpeft.runtime.backend.ParameterDeltaNames;
import org.ssmpeft.runtime.checkpoint.CheckpointException;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The Mamba-1 language model ({@code MambaForCausalLM}, DESIGN.md §3) written with DJL NDArray operations on the
 * PyTorch engine, float32 on the CPU, with every hook of an {@link AdapterSet} applied as plain NDArray code and
 * gradients by DJL autograd. It is the reference the other backends are checked against, and the place to try a new
 * hook ({@link DjlHook}) without writing a backward pass. Symbols: B batch, L length, P virtual tokens, d d_model,
 * D d_inner, N d_state, R dt_rank, K conv kernel, V vocab.
 *
 * <p>Per block, with the hooks where they act:
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
 * then norm_f and the head (tied to the embedding or not, with low-rank deltas). Prompt tuning prepends its
 * virtual embeddings to the token embeddings on a fresh cache, and logits are returned for all P + L positions.
 * Parameter hooks give {@code θ = θ_base + Σ Δθ} by Hugging Face name; contributions of all acting adapters add up.
 *
 * <p>Every call works in its own {@link NDManager} and {@link NDScope}, closed before it returns: results leave as
 * Java arrays and {@link Tensor}s, the recurrent state as the shared {@link MambaCache} (written only once a call
 * succeeded), and no native memory survives a call but the weights, freed by {@link #close}. Registered as the
 * {@code djl} backend by {@link DjlBackendProvider}. Thread-safe for forward passes; gradient passes are serialised
 * (DJL allows one gradient collector at a time).
 */
public final class DjlMamba implements MambaModel, AutoCloseable {

    private static final Object GRADIENT_LOCK = new Object();

    private final MambaConfig config;
    private final NDManager manager;
    private final Map<String, float[]> baseValues = new LinkedHashMap<>();
    private final Map<String, Shape> baseShapes = new LinkedHashMap<>();
    private final Map<String, NDArray> baseArrays = new HashMap<>();
    private final String headName;

    /** Copies the weights into native memory of the PyTorch engine; fails when the engine cannot load. */
    public DjlMamba(MambaWeights weights) {
        this.config = weights.config();
        this.manager = DjlEngine.newManager();
        int v = config.vocabSize();
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int k = config.convKernel();
        add("backbone.embeddings.weight", weights.embedding(), v, dm);
        for (int i = 0; i < config.layers(); i++) {
            LayerWeights l = weights.layers().get(i);
            add(layerName(i, "norm.weight"), l.norm(), dm);
            add(mixerName(i, "in_proj.weight"), l.inProj(), 2L * di, dm);
            final int layer = i;
            l.inProjBias().ifPresent(b -> add(mixerName(layer, "in_proj.bias"), b, 2L * di));
            add(mixerName(i, "conv1d.weight"), l.convWeight(), di, 1, k);
            l.convBias().ifPresent(b -> add(mixerName(layer, "conv1d.bias"), b, di));
            add(mixerName(i, "x_proj.weight"), l.xProj(), r + 2L * n, di);
            add(mixerName(i, "dt_proj.weight"), l.dtProj(), di, r);
            add(mixerName(i, "dt_proj.bias"), l.dtProjBias(), di);
            add(mixerName(i, "A_log"), l.aLog(), di, n);
            add(mixerName(i, "D"), l.d(), di);
            add(mixerName(i, "out_proj.weight"), l.outProj(), dm, di);
            l.outProjBias().ifPresent(b -> add(mixerName(layer, "out_proj.bias"), b, dm));
        }
        add("backbone.norm_f.weight", weights.normF(), dm);
        if (config.tieWordEmbeddings()) {
            headName = "backbone.embeddings.weight";
        } else {
            headName = "lm_head.weight";
            add(headName, weights.lmHead(), v, dm);
        }
    }

    /** Loads a Hugging Face (or state-spaces) Mamba-1 checkpoint directory. */
    public static DjlMamba load(Path checkpointDir) throws CheckpointException {
        return new DjlMamba(MambaCheckpoint.load(checkpointDir));
    }

    @Override
    public String backend() {
        return DjlBackendProvider.NAME;
    }

    @Override
    public MambaConfig config() {
        return config;
    }

    /** The base parameters by Hugging Face name, in checkpoint order (the tied head has no name of its own). */
    public List<String> parameterNames() {
        return List.copyOf(baseValues.keySet());
    }

    /** An all-zero cache for {@code batch} sequences. */
    @Override
    public MambaCache newCache(int batch) {
        return MambaCache.zeros(config, batch);
    }

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, MambaCache cache) {
        List<Adapter> acting = prepare(adapters);
        checkTokens(tokens, cache);
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, acting, Set.of(), false), tokens, cache);
            Logits logits = f.logits(tokens.length);
            f.commit(cache);
            return logits;
        }
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        List<Adapter> acting = prepare(adapters);
        MambaCache cache = newCache(tokens.length);
        checkTokens(tokens, cache);
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, acting, Set.of(), false), tokens, cache);
            return f.hidden.stream().map(NDArray::toFloatArray).toList();
        }
    }

    @Override
    public float[] step(int[] tokens, AdapterSet adapters, MambaCache cache) {
        int[][] column = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) {
            column[b] = new int[] {tokens[b]};
        }
        Logits out = forward(column, adapters, cache);
        int v = config.vocabSize();
        float[] last = new float[tokens.length * v];
        for (int b = 0; b < tokens.length; b++) {
            System.arraycopy(out.values(), (b * out.length() + out.length() - 1) * v, last, b * v, v);
        }
        return last;
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        List<Adapter> acting = prepare(adapters);
        MambaCache cache = newCache(tokens.length);
        checkTokens(tokens, cache);
        try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Forward f = run(new Pass(m, acting, Set.of(), false), tokens, cache);
            return crossEntropy(m, f.logits, labels, f.length - tokens[0].length).loss().getFloat();
        }
    }

    /**
     * The loss and its gradients by autograd: with respect to every tensor the acting adapters' hooks handed out
     * (including those a {@link DjlHook} read through its site), mapped to their parameters by each adapter's
     * {@link Adapter#parameterGradients}, and with respect to the base parameters named in
     * {@code trainableBaseNames} ({@link #parameterNames()}).
     */
    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        List<Adapter> acting = prepare(adapters);
        MambaCache cache = newCache(tokens.length);
        checkTokens(tokens, cache);
        for (String name : trainableBaseNames) {
            if (!baseValues.containsKey(name)) {
                throw new IllegalArgumentException("unknown base parameter '" + name + "'"
                        + (name.equals(MambaWeights.LM_HEAD) ? " (the head is tied: train " + MambaWeights.EMBEDDING
                        + ")" : "") + "; names are those of the Hugging Face checkpoint: "
                        + String.join(", ", baseValues.keySet()));
            }
        }
        synchronized (GRADIENT_LOCK) {
            try (NDManager m = DjlEngine.newManager(); NDScope scope = new NDScope();
                 GradientCollector collector = DjlEngine.pytorch().newGradientCollector()) {
                scope.suppressNotUsedWarning();
                Pass p = new Pass(m, acting, trainableBaseNames, true);
                Forward f = run(p, tokens, cache);
                Loss loss = crossEntropy(m, f.logits, labels, f.length - tokens[0].length);
                if (!p.leaves.isEmpty() || !p.trainableLeaves.isEmpty()) { // else nothing to differentiate
                    collector.backward(loss.loss());
                }

                IdentityHashMap<Tensor, Tensor> hookGradients = new IdentityHashMap<>();
                p.leaves.forEach((t, nd) -> hookGradients.put(t, Tensor.of(gradient(nd), t.shape())));
                Map<String, Map<String, Tensor>> adapterGradients = new LinkedHashMap<>();
                for (Adapter a : acting) {
                    adapterGradients.put(a.name(), a.parameterGradients(hookGradients));
                }
                Map<String, Tensor> baseGradients = new LinkedHashMap<>();
                for (String name : baseValues.keySet()) { // checkpoint order, as the cpu backend
                    NDArray leaf = p.trainableLeaves.get(name);
                    if (leaf != null) {
                        baseGradients.put(name, Tensor.of(gradient(leaf), toInts(baseShapes.get(name))));
                    }
                }
                return new LossAndGradients(loss.loss().getFloat(), loss.targets(), f.logits(tokens.length),
                        adapterGradients, baseGradients);
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

    private List<Adapter> prepare(AdapterSet adapters) {
        if (!adapters.shape().equals(config.toShape())) {
            throw new IllegalArgumentException("adapter set is sized for " + adapters.shape().describe()
                    + " but this model is " + config.toShape().describe());
        }
        List<Adapter> acting = adapters.acting();
        for (Adapter a : acting) {
            a.refreshDerived();
        }
        return acting;
    }

    private void checkTokens(int[][] tokens, MambaCache cache) {
        int batch = tokens.length;
        cache.requireFits(config, batch);
        int len = tokens[0].length;
        if (len == 0) {
            throw new IllegalArgumentException("expected at least one token per row, found none");
        }
        for (int b = 0; b < batch; b++) {
            if (tokens[b].length != len) {
                throw new IllegalArgumentException("token rows must have equal length; row 0 has " + len + ", row "
                        + b + " has " + tokens[b].length);
            }
            for (int id : tokens[b]) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, "
                            + config.vocabSize() + ")");
                }
            }
        }
    }

    private static int[] toInts(Shape s) {
        return Arrays.stream(s.getShape()).mapToInt(Math::toIntExact).toArray();
    }

    /** dL/d(leaf); DJL starts every leaf's gradient at zero, so a leaf that did not reach the loss gives zeros. */
    private static float[] gradient(NDArray leaf) {
        return leaf.getGradient().toFloatArray();
    }

    /** The acting adapters of one call, their hook tensors as NDArrays, and the effective base parameters. */
    private final class Pass {
        final NDManager m;
        final boolean training;
        final List<Adapter> acting;
        final Set<String> trainable;
        final IdentityHashMap<Tensor, NDArray> leaves = new IdentityHashMap<>();
        final Map<String, NDArray> trainableLeaves = new LinkedHashMap<>();
        final Map<String, NDArray> effective = new HashMap<>();
        final List<InputHook> inputs;
        final List<InitialStateHook> initialStates;
        final List<StateOffsetHook> stateOffsets;
        final List<OutputOffsetHook> outputOffsets;
        final List<StateExtensionHook> stateExtensions;
        final List<ProjectionHook> projections;
        final List<ParameterHook> parameters;
        final List<DjlHook> djlHooks;

        Pass(NDManager m, List<Adapter> acting, Set<String> trainable, boolean training) {
            this.m = m;
            this.acting = acting;
            this.trainable = trainable;
            this.training = training;
            this.inputs = only(acting, InputHook.class);
            this.initialStates = only(acting, InitialStateHook.class);
            this.stateOffsets = only(acting, StateOffsetHook.class);
            this.outputOffsets = only(acting, OutputOffsetHook.class);
            this.stateExtensions = only(acting, StateExtensionHook.class);
            this.projections = only(acting, ProjectionHook.class);
            this.parameters = only(acting, ParameterHook.class);
            ParameterDeltaNames.requireKnown(acting, baseShapes.keySet(), config);
            this.djlHooks = only(acting, DjlHook.class);
        }

        private static <T> List<T> only(List<Adapter> acting, Class<T> type) {
            return acting.stream().filter(type::isInstance).map(type::cast).toList();
        }

        /** A hook tensor as a float32 array; a leaf that requires a gradient when training. */
        NDArray leaf(Tensor t, String what, long... expected) {
            if (expected.length > 0 && !Arrays.equals(Arrays.stream(t.shape()).asLongStream().toArray(), expected)) {
                throw new IllegalArgumentException(what + ": expected shape " + new Shape(expected) + ", found "
                        + Tensor.format(t.shape()));
            }
            return leaves.computeIfAbsent(t, x -> {
                NDArray a = m.create(x.data(), new Shape(Arrays.stream(x.shape()).asLongStream().toArray()));
                if (training) {
                    a.setRequiresGradient(true);
                }
                return a;
            });
        }

        /** θ = θ_base (a leaf when trainable) + Σ Δθ of the parameter hooks. */
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
            for (ParameterHook h : parameters) {
                Optional<Tensor> delta = h.parameterDelta(name);
                if (delta.isPresent()) {
                    theta = theta.add(leaf(delta.get(), "parameter delta of " + name + " from adapter '"
                            + ((Adapter) h).name() + "'", baseShapes.get(name).getShape()));
                }
            }
            effective.put(name, theta);
            return theta;
        }

        Optional<NDArray> param(String name, boolean present) {
            return present ? Optional.of(param(name)) : Optional.empty();
        }

        /** Σ over hooks of the tensors they hand out, each checked against {@code shape}. */
        <H> Optional<NDArray> sum(List<H> hooks, Function<H, Optional<Tensor>> get, String what, long... shape) {
            NDArray total = null;
            for (H h : hooks) {
                Optional<Tensor> t = get.apply(h);
                if (t.isPresent()) {
                    NDArray a = leaf(t.get(), what + " of adapter '" + ((Adapter) h).name() + "'", shape);
                    total = total == null ? a : total.add(a);
                }
            }
            return Optional.ofNullable(total);
        }

        /** The low-rank deltas of every acting adapter on the row blocks of {@code module} in {@code layer}. */
        List<LowRankDelta> deltas(int layer, String module) {
            List<LowRankDelta> out = new ArrayList<>();
            for (ProjectionHook h : projections) {
                for (Projection target : Projection.values()) {
                    if (target.module().equals(module)) {
                        h.delta(layer, target).ifPresent(out::add);
                    }
                }
            }
            return out;
        }

        /** n'_l per layer: the state dimensions the acting extensions add (0 where none acts). */
        int[] extraStateWidths() {
            int[] widths = new int[config.layers()];
            for (StateExtensionHook h : stateExtensions) {
                for (int l = 0; l < widths.length; l++) {
                    widths[l] += h.stateExtension(l).map(StateExtensionHook.StateExtension::width).orElse(0);
                }
            }
            return widths;
        }

        /**
         * A scalar of the call, open until the call ends. Never use DJL's {@code array.op(Number)} here: on the
         * PyTorch engine it wraps the number in a tensor over a direct buffer and closes it at once, yet autograd
         * keeps that tensor for the backward pass (mul, div), which then reads freed memory.
         */
        NDArray constant(float value) {
            return m.create(value);
        }

        Optional<InputHook> input(InputHook.Placement placement) {
            return inputs.stream().filter(h -> h.placement() == placement).findFirst();
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

        void commit(MambaCache cache) {
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

    private Forward run(Pass p, int[][] tokens, MambaCache cache) {
        NDManager m = p.m;
        int batch = tokens.length;
        int len = tokens[0].length;
        int dm = config.dModel();
        boolean fresh = cache.position() == 0;
        cache.requireExtraState(p.extraStateWidths());
        long[] ids = new long[batch * len];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                ids[b * len + t] = tokens[b][t];
            }
        }
        // embeddings: rows of (V, d) picked by the ids -> (B, L, d)
        NDArray h = p.param("backbone.embeddings.weight").get(m.create(ids, new Shape(ids.length)))
                .reshape(batch, len, dm);
        if (fresh) {
            Optional<InputHook> prompt = p.input(InputHook.Placement.EMBEDDING);
            if (prompt.isPresent()) {
                InputHook in = prompt.get();
                Tensor t = in.virtualTokens(-1).orElseThrow(() -> new IllegalArgumentException("adapter '"
                        + ((Adapter) in).name() + "' places virtual tokens at the embedding but hands out none"));
                NDArray virtual = p.leaf(t, "virtual tokens of adapter '" + ((Adapter) in).name() + "'",
                        in.virtualTokenCount(), dm);
                // e' = [P; E(x)]: (B, P + L, d)
                h = virtual.expandDims(0).broadcast(batch, in.virtualTokenCount(), dm).concat(h, 1);
            }
        }
        Forward f = new Forward();
        f.length = Math.toIntExact(h.getShape().get(1));
        f.virtualTokens = f.length - len;
        for (int i = 0; i < config.layers(); i++) {
            h = block(p, i, h, cache, fresh, f);
            f.hidden.add(h);
        }
        NDArray normed = rmsNorm(p, h, p.param("backbone.norm_f.weight"));
        f.hidden.add(normed);
        // logits = norm_f(h) · headᵀ (+ low-rank deltas): (B, L', V)
        f.logits = linear(p, normed, p.param(headName), Optional.empty(), p.deltas(-1, Projection.HEAD.module()),
                "head");
        return f;
    }

    // One block: (B, L', d) -> (B, L', d); the layer's final conv and SSM states go to f.
    private NDArray block(Pass p, int layer, NDArray residual, MambaCache cache, boolean fresh, Forward f) {
        NDManager m = p.m;
        long batch = residual.getShape().get(0);
        long len = residual.getShape().get(1);
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int k = config.convKernel();

        NDArray u = rmsNorm(p, residual, p.param(layerName(layer, "norm.weight")));
        // [x | z] = in_proj(u): (B, L', 2D)
        NDArray xz = linear(p, u, p.param(mixerName(layer, "in_proj.weight")),
                p.param(mixerName(layer, "in_proj.bias"), config.useBias()), p.deltas(layer, "in_proj"),
                "in_proj of layer " + layer);
        NDArray x = xz.get(":, :, 0:" + di);
        NDArray z = xz.get(":, :, " + di + ":");

        // prefix tuning: x = [P_l; x] (B, n + L', D); their gate would be 0, so their outputs are dropped below
        int prefix = 0;
        if (fresh) {
            Optional<InputHook> layerInput = p.input(InputHook.Placement.LAYER);
            if (layerInput.isPresent()) {
                InputHook in = layerInput.get();
                Optional<Tensor> t = in.virtualTokens(layer);
                if (t.isPresent()) {
                    prefix = in.virtualTokenCount();
                    NDArray virtual = p.leaf(t.get(), "virtual tokens of adapter '" + ((Adapter) in).name()
                            + "' in layer " + layer, prefix, di);
                    x = virtual.expandDims(0).broadcast(batch, prefix, di).concat(x, 1);
                }
            }
        }
        long lt = len + prefix;

        // causal depthwise conv over [conv state; x]: out_t = Σ_k w[:, k] ⊙ xpad_{t+k} + bias, then SiLU
        NDArray previous = m.create(cache.convState(layer), new Shape(batch, di, k)).transpose(0, 2, 1); // (B, K, D)
        NDArray padded = previous.concat(x, 1); // (B, K + L'', D)
        NDArray w = p.param(mixerName(layer, "conv1d.weight")).reshape(di, k);
        NDArray conv = null;
        for (int j = 0; j < k; j++) {
            // window j of the K - 1 previous inputs and the new ones: rows 1 + j .. 1 + j + L'' - 1
            NDArray term = padded.get(":, " + (1 + j) + ":" + (1 + j + lt) + ", :").mul(w.get(":, " + j));
            conv = conv == null ? term : conv.add(term);
        }
        if (config.useConvBias()) {
            conv = conv.add(p.param(mixerName(layer, "conv1d.bias")));
        }
        NDArray xc = silu(conv); // (B, L'', D)
        f.conv[layer] = padded.get(":, " + lt + ":, :").transpose(0, 2, 1).toFloatArray(); // last K inputs (B, D, K)

        // [dt_low | Bm | Cm] = x_proj(x): (B, L'', R + 2N)
        NDArray xdbl = linear(p, xc, p.param(mixerName(layer, "x_proj.weight")), Optional.empty(),
                p.deltas(layer, "x_proj"), "x_proj of layer " + layer);
        NDArray dtLow = xdbl.get(":, :, 0:" + r);
        NDArray bm = xdbl.get(":, :, " + r + ":" + (r + n));
        NDArray cm = xdbl.get(":, :, " + (r + n) + ":");
        // dt = softplus(dt_proj(dt_low) + bias): (B, L'', D)
        NDArray dt = Activation.softPlus(linear(p, dtLow, p.param(mixerName(layer, "dt_proj.weight")),
                Optional.of(p.param(mixerName(layer, "dt_proj.bias"))), p.deltas(layer, "dt_proj"),
                "dt_proj of layer " + layer));
        NDArray a = p.param(mixerName(layer, "A_log")).exp().neg(); // (D, N)
        // state extensions (additional-scan), as the reference runs them: one scan of width N + n' with
        // A = [A | -exp(a')], Bm = [Bm | x E_Bᵀ], Cm = [Cm | x E_Cᵀ]; the last n' state columns are the cache's extra state
        int ne = 0;
        NDArray cmScan = cm;
        for (StateExtensionHook hook : p.stateExtensions) {
            Optional<StateExtensionHook.StateExtension> e = hook.stateExtension(layer);
            if (e.isPresent()) {
                String what = "state extension of layer " + layer + " of adapter '" + ((Adapter) hook).name() + "'";
                int width = e.get().width();
                a = a.concat(p.leaf(e.get().logDecay(), what, di, width).exp().neg(), 1);
                bm = bm.concat(xc.matMul(p.leaf(e.get().inputMap(), what, width, di).transpose()), 2);
                cmScan = cmScan.concat(xc.matMul(p.leaf(e.get().readOut(), what, width, di).transpose()), 2);
                ne += width;
            }
        }

        // selective scan, sequential over time as transformers' slow path:
        // h_t = exp(dt_t A) ⊙ h_{t-1} + (dt_t Bm_t) x_t,  y_t = h_t · Cm_t
        NDArray decay = dt.expandDims(3).mul(a).exp();                              // (B, L'', D, N)
        NDArray input = dt.expandDims(3).mul(bm.expandDims(2)).mul(xc.expandDims(3)); // (B, L'', D, N)
        NDArray state;
        Optional<NDArray> h0 = fresh ? p.sum(p.initialStates, hk -> hk.initialState(layer),
                "initial state of layer " + layer, di, n) : Optional.empty();
        if (h0.isPresent()) {
            state = h0.get().expandDims(0).broadcast(batch, di, n);
        } else {
            state = m.create(cache.ssmState(layer), new Shape(batch, di, n));
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
        Optional<NDArray> hOffset = p.sum(p.stateOffsets, hk -> hk.stateOffset(layer),
                "state offset of layer " + layer, di, n);
        if (hOffset.isPresent()) {
            y = y.add(cm.matMul(hOffset.get().transpose()));
        }
        Optional<NDArray> yOffset = p.sum(p.outputOffsets, hk -> hk.outputOffset(layer),
                "output offset of layer " + layer, di);
        if (yOffset.isPresent()) {
            y = y.add(yOffset.get());
        }
        NDArray xReal = xc;
        if (prefix > 0) {
            y = y.get(":, " + prefix + ":, :");
            xReal = xc.get(":, " + prefix + ":, :");
        }
        y = y.mul(silu(z)); // (B, L', D)

        if (!p.djlHooks.isEmpty()) {
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
        }

        NDArray out = linear(p, y, p.param(mixerName(layer, "out_proj.weight")),
                p.param(mixerName(layer, "out_proj.bias"), config.useBias()), p.deltas(layer, "out_proj"),
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
    private static NDArray linear(Pass p, NDArray x, NDArray w, Optional<NDArray> bias, List<LowRankDelta> deltas,
                                  String what) {
        NDArray y = x.matMul(w.transpose());
        if (bias.isPresent()) {
            y = y.add(bias.get());
        }
        long out = w.getShape().get(0);
        long in = w.getShape().get(1);
        for (LowRankDelta d : deltas) {
            int rank = d.rank();
            long rows = d.b().dim(0);
            if (d.a().dim(1) != in || d.rowOffset() + rows > out) {
                throw new IllegalArgumentException("low-rank delta on " + what + ": A" + Tensor.format(d.a().shape())
                        + ", B" + Tensor.format(d.b().shape()) + " at row " + d.rowOffset() + " does not fit the"
                        + " weight (" + out + ", " + in + ")");
            }
            NDArray a = p.leaf(d.a(), "lora A on " + what, rank, in);
            NDArray b = p.leaf(d.b(), "lora B on " + what, rows, rank);
            NDArray delta = x.matMul(a.transpose()).mul(p.constant(d.scaling())).matMul(b.transpose()); // (..., rows)
            if (rows != out) {
                delta = padColumns(p.m, delta, d.rowOffset(), out - d.rowOffset() - rows);
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
     * Mean cross-entropy of next-token targets: position p predicts label p + 1 of [IGNORE × virtual; labels].
     * logits: (B, L', V), labels: (B, L) with L' = virtual + L.
     */
    private Loss crossEntropy(NDManager m, NDArray logits, int[][] labels, int virtual) {
        int batch = Math.toIntExact(logits.getShape().get(0));
        int len = Math.toIntExact(logits.getShape().get(1));
        int v = config.vocabSize();
        if (labels.length != batch) {
            throw new IllegalArgumentException("expected " + batch + " label rows, found " + labels.length);
        }
        long[] target = new long[batch * len];
        float[] mask = new float[batch * len];
        int count = 0;
        for (int b = 0; b < batch; b++) {
            if (labels[b].length != len - virtual) {
                throw new IllegalArgumentException("label row " + b + " has " + labels[b].length + " labels, expected "
                        + (len - virtual) + " (one per token)");
            }
            for (int pos = 0; pos < len - 1; pos++) {
                int next = pos + 1 - virtual;
                int label = next < 0 ? IGNORE_INDEX : labels[b][next];
                if (label == IGNORE_INDEX) {
                    continue;
                }
                if (label < 0 || label >= v) {
                    throw new IllegalArgumentException("label " + label + " is outside the vocabulary [0, " + v
                            + ") and is not the ignore index " + IGNORE_INDEX);
                }
                target[b * len + pos] = label;
                mask[b * len + pos] = 1f;
                count++;
            }
        }
        // without any target the loss is 0 and so are its gradients (LossAndGradients' contract)
        NDArray logp = logits.logSoftmax(2).reshape(batch * (long) len, v);
        NDArray picked = logp.gather(m.create(target, new Shape(target.length, 1)), 1).reshape(target.length);
        return new Loss(picked.mul(m.create(mask, new Shape(mask.length))).sum().neg()
                .div(m.create((float) Math.max(count, 1))), count);
    }

    /** A scalar loss and the number of targets in its mean. */
    private record Loss(NDArray loss, int targets) {
    }

    /** The {@link DjlHook.Site} of one block. */
    private record BlockSite(Pass pass, NDArray ssmInput, NDArray gate) implements DjlHook.Site {
        @Override
        public NDManager manager() {
            return pass.m;
        }

        @Override
        public NDArray parameter(Tensor tensor) {
            return pass.leaf(tensor, "DjlHook parameter");
        }
    }
}
