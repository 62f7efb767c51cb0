package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.TopTokens;
import org.ssmpeft.runtime.backend.TrainingSession;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.PlanGradients;
import org.ssmpeft.runtime.plan.RowPlans;

/**
 * The Mamba-1 language model on the GPU in float32, computing what the cpu's {@code CpuMamba} computes (transformers'
 * pure-PyTorch {@code MambaForCausalLM}; DESIGN.md §3) with every PEFT hook and a hand-derived backward. Symbols: B
 * batch, L length, d d_model, V vocab, P virtual tokens of a prompt, M = B·L.
 * <pre>
 *   h = [prompt; embedding[tokens]]                 (B, L, d)
 *   h = block_l(h)  for l = 0 .. layers-1           {@link MambaBlock}, residual inside
 *   logits = norm_f(h)·lm_headᵀ + Σ s·(norm_f(h)·Aᵀ)·Bᵀ    (M, V)
 *   loss = mean cross-entropy of next-token targets
 * </pre>
 * Precision ({@link org.ssmpeft.runtime.backend.ModelSpec#precision()}): the matrix products run in the spec's fp32,
 * tf32 or bf16 ({@link ModelProducts}: bf16 rounds both inputs of every product, fp32 accumulate and output); the
 * norms, conv, scan and its state, cross-entropy, gradients and the weights themselves are float32 in every mode.
 * The base weights are uploaded once ({@link DeviceWeights}) and stay resident until {@link #close}. A call resolves
 * its {@link HookPlan} on the host (backend-neutral), then, holding the device lock, uploads the plan's values in one
 * copy ({@link DevicePlan}), runs every layer on the device, and brings back only its result: logits, the per-row
 * losses, or the gradients in one copy ({@link DeviceGradients}); token ids and targets go up. Scratch memory comes
 * from an arena of the call, given back when it returns (to the device's {@link ChunkPool}, so a later call of the
 * same shape allocates nothing from the driver). The recurrent state is a {@link CudaState} on the device; a
 * decode step is the forward of one token, which runs the scan's single-step kernel (the forward's arithmetic bit for
 * bit), so stepping a fresh state reproduces the full forward.
 *
 * <p>Training ({@link #lossAndGradients}) keeps per layer what the backward cannot cheaply recompute
 * ({@link LayerTape}: the block's input, [x | z], [dt_low | B | C], the scan's tile checkpoints); the backward
 * recomputes the norm, the conv and Δ into scratch shared by the layers, and the scan backward the states inside a
 * tile. The head and the loss run in chunks of rows ({@link #headLoss}), so the (M, V) logits are never whole on the
 * device, and each layer's backward temporaries are given back before the next layer's.
 * Frozen weights get no weight gradient, and layers below the lowest trainable thing are not back-propagated.
 *
 * <p>The model reaches its device only through {@link Device} (memory and copies, {@link LayerOps},
 * {@link ProductOps}, {@link ScanOps}): on a GPU these are the driver, {@code LayerKernels}, {@code DeviceLinear} and
 * {@code SelectiveScanKernels} ({@link CudaDevice}); the tests also run this very code on a host emulation of those
 * contracts, through the whole backend contract.
 *
 * <p>Thread-safe: calls are serialised on the one stream and cuBLAS handle of the model's device (DESIGN.md: one
 * context, one stream); each call has its caller's state. Close the model to free its device memory, its states'
 * included.
 */
public final class CudaMamba implements SsmModel, AutoCloseable {

    private final MambaWeights weights;
    private final MambaConfig config;
    private final Device device;
    private final DeviceWeights base;
    private final ModelProducts linear;
    private final LowRankDeltas lowRank;
    private final MambaBlock block;
    private final Set<CudaState> states = Collections.newSetFromMap(new IdentityHashMap<>());
    private final boolean ownsDevice;
    private boolean closed; // under the device lock

    /** The model on {@code device}, which it owns from now on (its close closes the device). */
    CudaMamba(MambaWeights weights, Device device) {
        this(weights, device, true);
    }

    /** @param ownsDevice whether the model's close closes the device (false for the process's shared GPU device) */
    private CudaMamba(MambaWeights weights, Device device, boolean ownsDevice) {
        if (weights.config().dState() > SelectiveScanKernels.MAX_STATES) {
            throw new IllegalArgumentException("the cuda scan holds at most " + SelectiveScanKernels.MAX_STATES
                    + " state dimensions per channel, this model has N = " + weights.config().dState() + " ("
                    + weights.describe() + "); run it on the cpu backend");
        }
        this.weights = weights;
        this.config = weights.config();
        this.device = device;
        this.ownsDevice = ownsDevice;
        device.linear(weights.precision()); // fails naming what the device offers
        this.base = device.locked(() -> new DeviceWeights(device, weights));
        this.linear = new ModelProducts(weights.precision(), device, base);
        this.lowRank = new LowRankDeltas(linear, device.layers());
        this.block = new MambaBlock(config, device, linear, lowRank,
                weights.precision() == org.ssmpeft.runtime.backend.Precision.FLOAT32);
    }

    /**
     * The model on GPU {@code ordinal}, uploading the weights: on the process's shared device there (opened, and its
     * kernels compiled or loaded from the disk cache, by the first model; {@link CudaDevice#shared}).
     */
    public static CudaMamba open(MambaWeights weights, int ordinal) throws CudaUnavailableException {
        return new CudaMamba(weights, CudaDevice.shared(ordinal), false);
    }

    @Override
    public String backend() {
        return device.backend();
    }

    @Override
    public MambaWeights spec() {
        return weights;
    }

    public MambaConfig config() {
        return config;
    }

    /** The arithmetic of this model's matrix products (its spec's). */
    public org.ssmpeft.runtime.backend.Precision precision() {
        return weights.precision();
    }

    /** The GPU this model runs on, e.g. "NVIDIA H200 (sm_90)". */
    public String deviceName() {
        return device.name();
    }

    /** Bytes of device memory the resident base weights hold. */
    public long weightBytes() {
        return base.bytes();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // states

    @Override
    public CudaState newState(int batch) {
        return device.locked(() -> {
            requireOpen();
            return register(new CudaState(this, device, batch, device.memory().arena(), true));
        });
    }

    @Override
    public CudaState importState(HostState host) {
        HostState checked = host.importedBy(backend(), shape()); // the shape check and its message
        return device.locked(() -> {
            requireOpen();
            return register(CudaState.of(this, device, checked));
        });
    }

    // under the device lock
    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the " + backend() + " model is closed; create it again from its spec");
        }
    }

    CudaState register(CudaState s) {
        states.add(s);
        return s;
    }

    void unregister(CudaState s) {
        states.remove(s);
    }

    /** {@code state} as this model's state for a call on {@code batch} rows; fails naming the owner, model or batch. */
    private CudaState own(SsmState state, int batch) {
        if (!(state instanceof CudaState s)) {
            throw new IllegalArgumentException(HostState.ownerMessage(state, backend()));
        }
        if (s.model() != this) {
            throw new IllegalArgumentException("this state belongs to another cuda model (" + s.model().shape()
                    .describe() + "); move a sequence between models with model.importState(state.export())");
        }
        if (batch != s.batch()) {
            throw new IllegalArgumentException("expected " + s.batch() + " token rows (the state's batch), found "
                    + batch);
        }
        return s;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the SPI's calls

    @Override
    public Logits forward(int[][] tokens, AdapterSet adapters, SsmState state) {
        CudaState s = own(state, tokens.length);
        return forward(tokens, RowPlans.of(HookPlan.resolve(weights, adapters, s.isFresh()), s.batch()), s);
    }

    /**
     * A mixed-adapter batch in one pass (row b under {@code perRow.get(b)}): the base products over all rows, each
     * run of rows with the same adapters with its own hooks on its rows ({@link BatchPlan}); row b's logits and state
     * are those of row b run alone, within float32 rounding (a product over more rows may sum in another order).
     */
    @Override
    public Logits forward(int[][] tokens, List<AdapterSet> perRow, SsmState state) {
        CudaState s = own(state, tokens.length);
        return forward(tokens, RowPlans.resolve(weights, perRow, tokens.length, s.isFresh()), s);
    }

    private Logits forward(int[][] tokens, RowPlans rows, CudaState s) {
        HookPlan.checkTokens(tokens, s.batch(), config.vocabSize());
        return call(arena -> {
            s.requireOpen();
            s.requireExtraState(rows.extraStateWidths());
            BatchPlan plan = plan(rows, arena);
            Pass p = run(arena, tokens, plan, s, false, null);
            long m = (long) tokens.length * p.len;
            long logits = floats(arena, m * config.vocabSize());
            head(arena, plan, p.normedF, p.len, logits);
            return new Logits(download(logits, m * config.vocabSize()), tokens.length, p.len, config.vocabSize(),
                    plan.promptLength());
        });
    }

    /** The device plans of {@code rows}, uploaded into the call's arena. */
    private BatchPlan plan(RowPlans rows, DeviceMemory.Arena arena) {
        return BatchPlan.of(rows, h -> DevicePlan.of(h, base, weights, device, arena), weights, device, arena);
    }

    /**
     * Greedy decoding and beam search with the ranking on the device and each step a replayed graph
     * ({@link CudaDecoder}); only the rows' best tokens come back per step.
     */
    @Override
    public org.ssmpeft.runtime.backend.Decoder decoder(AdapterSet adapters, SsmState state) {
        return new CudaDecoder(this, device, own(state, state.batch()), adapters, null);
    }

    /** A mixed-adapter batch's decoder: the same replayed step, each row's hooks on its rows ({@link BatchPlan}). */
    @Override
    public org.ssmpeft.runtime.backend.Decoder decoder(List<AdapterSet> perRow, SsmState state) {
        return new CudaDecoder(this, device, own(state, state.batch()), null, List.copyOf(perRow));
    }

    /**
     * A decoder's prefill (and its step from a fresh state): the forward of {@code tokens} from {@code s}, the head
     * of each row's last position only, its best {@code n} tokens ranked on the device ({@link LayerOps#topTokens}).
     */
    TopTokens prefill(int[][] tokens, RowPlans rows, CudaState s, int n, int[] excluded) {
        own(s, tokens.length);
        HookPlan.checkTokens(tokens, s.batch(), config.vocabSize());
        TopTokens.check(config.vocabSize(), n, excluded);
        return call(arena -> {
            s.requireOpen();
            s.requireExtraState(rows.extraStateWidths());
            BatchPlan plan = plan(rows, arena);
            Pass p = run(arena, tokens, plan, s, false, null);
            int batch = tokens.length;
            int dm = config.dModel();
            long last = floats(arena, (long) batch * dm);
            device.layers().copy2d(last, dm, p.normedF + 4L * (p.len - 1) * dm, Math.multiplyExact(p.len, dm),
                    batch, dm);
            long mask = excluded.length == 0 ? 0 : floats(arena, maskWords()); // 0: top_tokens excludes nothing
            if (mask != 0) {
                device.memory().uploadInts(mask, excludedMask(excluded));
            }
            long logits = floats(arena, (long) batch * config.vocabSize());
            long ids = floats(arena, (long) batch * n);
            long logp = floats(arena, (long) batch * n);
            head(arena, plan, last, 1, logits);
            device.layers().topTokens(ids, logp, logits, batch, config.vocabSize(), n, mask,
                    topWork(arena, batch, n));
            return topTokens(ids, logp, batch, n);
        });
    }

    /** The plan of a decoder's steps (the state is not fresh there), its values uploaded into {@code arena}. */
    BatchPlan stepPlan(RowPlans rows, DeviceMemory.Arena arena) {
        return plan(rows, arena);
    }

    /**
     * One decode step on the device, under the lock, nothing waiting for the host (what {@link CudaDecoder} records):
     * token ids (B) -> the forward of one position from {@code s} -> logits (B, V) -> the best n (ids, logp). Its
     * buffers come from {@code arena}, which outlives the recording.
     */
    void decodeStep(DeviceMemory.Arena arena, BatchPlan plan, CudaState s, long tokenIds, long logits, long ids,
                    long logp, int n, long mask) {
        linear.begin(arena);
        try {
            Pass p = pass(arena, tokenIds, s.batch(), 1, plan, s, false, null);
            head(arena, plan, p.normedF, 1, logits);
            device.layers().topTokens(ids, logp, logits, s.batch(), config.vocabSize(), n, mask,
                    topWork(arena, s.batch(), n));
        } finally {
            linear.end();
        }
    }

    // the ranking's workspace for rows x n in the arena (0 where it needs none)
    private long topWork(DeviceMemory.Arena arena, int rows, int n) {
        long f = org.ssmpeft.runtime.cuda.layers.LayerKernels.topTokensWorkFloats(rows, config.vocabSize(), n);
        return f == 0 ? 0 : arena.floats(f);
    }

    /** int32 words of an exclusion bitmask over the vocabulary ({@link LayerOps#topTokens}). */
    int maskWords() {
        return (config.vocabSize() + 31) / 32;
    }

    /** The bitmask of {@code excluded}: bit i of word i / 32 set for each excluded id. */
    int[] excludedMask(int[] excluded) {
        int[] words = new int[maskWords()];
        for (int e : excluded) {
            words[e >> 5] |= 1 << (e & 31);
        }
        return words;
    }

    /** The (B, n) ids and log-probabilities at {@code ids} and {@code logp}, after the queued work. */
    TopTokens topTokens(long ids, long logp, int batch, int n) {
        int[] top = device.memory().downloadInts(ids, batch * n);
        float[] lp = download(logp, (long) batch * n);
        double[] wide = new double[lp.length];
        for (int i = 0; i < lp.length; i++) {
            wide[i] = lp[i];
        }
        return new TopTokens(batch, n, top, wide);
    }

    @Override
    public List<float[]> hiddenStates(int[][] tokens, AdapterSet adapters) {
        HookPlan hooks = HookPlan.resolve(weights, adapters, true);
        HookPlan.checkTokens(tokens, tokens.length, config.vocabSize());
        return call(arena -> {
            CudaState s = fresh(arena, tokens.length, hooks);
            return run(arena, tokens, single(DevicePlan.of(hooks, base, weights, device, arena), tokens.length), s,
                    true, null).kept;
        });
    }

    @Override
    public double loss(int[][] tokens, int[][] labels, AdapterSet adapters) {
        HookPlan hooks = HookPlan.resolve(weights, adapters, true);
        HookPlan.checkTokens(tokens, tokens.length, config.vocabSize());
        int[] targets = hooks.targets(tokens, labels);
        int count = HookPlan.targetCount(targets);
        return call(arena -> {
            CudaState s = fresh(arena, tokens.length, hooks);
            DevicePlan plan = DevicePlan.of(hooks, base, weights, device, arena);
            Pass p = run(arena, tokens, single(plan, tokens.length), s, false, null);
            long rowLoss = floats(arena, targets.length);
            headLoss(arena, plan, p, device.memory().uploadInts(arena, targets), count, rowLoss, null, null, 0);
            return meanLoss(download(rowLoss, targets.length), count);
        });
    }

    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames) {
        return lossAndGradients(tokens, labels, adapters, trainableBaseNames, true);
    }

    /** Without {@code keepLogits} the logits stay on the device (the trainer's call): only gradients come back. */
    @Override
    public LossAndGradients lossAndGradients(int[][] tokens, int[][] labels, AdapterSet adapters,
                                             Set<String> trainableBaseNames, boolean keepLogits) {
        HookPlan hooks = HookPlan.resolve(weights, adapters, true);
        Set<String> wanted = hooks.gradientBaseNames(trainableBaseNames);
        int[] targets = hooks.targets(tokens, labels);
        HookPlan.checkTokens(tokens, tokens.length, config.vocabSize());
        int count = HookPlan.targetCount(targets);
        int v = config.vocabSize();
        Trained t = call(arena -> {
            DevicePlan plan = DevicePlan.of(hooks, base, weights, device, arena);
            TrainPass p = trainPass(arena, hooks, plan, tokens, targets, count, wanted, keepLogits);
            PlanGradients grads = p.g().toHost(device.memory());
            double loss = meanLoss(download(p.rowLoss(), p.m()), count);
            return new Trained(loss, p.logits() == null ? null
                    : new Logits(p.logits(), tokens.length, p.pass().len, v, plan.promptLength()), grads);
        });
        return hooks.result(t.loss, count, t.logits, t.grads, trainableBaseNames);
    }

    private record Trained(double loss, Logits logits, PlanGradients grads) {
    }

    /** One training call's results on the device: its pass, M rows, the per-row losses (M), the gradients. */
    private record TrainPass(Pass pass, long m, long rowLoss, DeviceGradients g, float[] logits) {
    }

    /**
     * Forward, the chunked head and loss, and the backward of one training call in its arena (under the device
     * lock): what {@link #lossAndGradients} and the training session's {@link #lossAndDeviceGradients} share.
     */
    private TrainPass trainPass(DeviceMemory.Arena arena, HookPlan hooks, DevicePlan plan, int[][] tokens,
                                int[] targets, int count, Set<String> wanted, boolean keepLogits) {
        CudaState s = fresh(arena, tokens.length, hooks);
        BatchPlan rows = single(plan, tokens.length);
        Pass pass = run(arena, tokens, rows, s, false, wanted);
        long m = pass.rows();
        var g = new DeviceGradients(device.memory(), arena, plan.terms(), weights.parameters(), wanted);
        Reach reach = reach(plan, g, wanted);
        long dNormedF = reach.throughLayers() || g.base(LanguageModelWeights.NORM_F) != 0
                ? floats(arena, m * config.dModel()) : 0;
        float[] logits = keepLogits ? new float[Math.toIntExact(m * config.vocabSize())] : null;
        long rowLoss = floats(arena, m);
        headLoss(arena, plan, pass, device.memory().uploadInts(arena, targets), count, rowLoss, logits, g, dNormedF);
        backward(arena, tokens, rows, pass, dNormedF, g, reach);
        return new TrainPass(pass, m, rowLoss, g, logits);
    }

    // L = (1/T) Σ_rows rowLoss, summed in double in row order (ignored rows hold 0); 0 without targets
    private static double meanLoss(float[] rowLoss, int count) {
        if (count == 0) {
            return 0.0;
        }
        double total = 0;
        for (float l : rowLoss) {
            total += l;
        }
        return total / count;
    }

    // the batch plan of one adapter stack over every row
    private BatchPlan single(DevicePlan plan, int batch) {
        return BatchPlan.single(plan, batch, config.layers());
    }

    // a fresh throwaway state in the call's arena, with the extra states the acting extensions need
    private CudaState fresh(DeviceMemory.Arena arena, int batch, HookPlan hooks) {
        CudaState s = new CudaState(this, device, batch, arena, false);
        s.requireExtraState(hooks.extraStateWidths());
        return s;
    }

    /**
     * Runs {@code work} holding the device lock with an arena for the call's memory, freed when it returns (after
     * the stream drained, so no queued kernel still reads it).
     */
    private <T> T call(Function<DeviceMemory.Arena, T> work) {
        return device.locked(() -> {
            requireOpen();
            DeviceMemory.Arena arena = device.memory().arena();
            try {
                linear.begin(arena);
                return work.apply(arena);
            } finally {
                try {
                    device.memory().sync();
                } finally {
                    linear.end();
                    arena.close();
                }
            }
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    /**
     * One forward pass up to norm_f: its length P + T, the hidden states asked for, in training the tapes of every
     * layer, the final residual stream h (M, d) and norm_f(h) (M, d) that the head reads.
     */
    private record Pass(int len, int rows, List<float[]> kept, List<LayerTape> tapes, long finalHidden, long normedF,
                        long tokenIds) {
    }

    /** @param wanted in training the base names that get gradients (which decides what the tapes keep), else null */
    private Pass run(DeviceMemory.Arena call, int[][] tokens, BatchPlan plan, CudaState state, boolean keepHiddenStates,
                     Set<String> wanted) {
        long ids = device.memory().uploadInts(call, tokens);
        Pass pass = pass(call, ids, tokens.length, tokens[0].length, plan, state, keepHiddenStates, wanted);
        state.advance(pass.len);
        return pass;
    }

    /**
     * The device work of {@link #run} from token ids already on the device (B, T): without hidden states kept, it
     * waits for nothing on the host, so a decoder records it once and replays it; the state's position is the
     * caller's to advance.
     */
    private Pass pass(DeviceMemory.Arena call, long ids, int batch, int t, BatchPlan plan, CudaState state,
                      boolean keepHiddenStates, Set<String> wanted) {
        LayerOps k = device.layers();
        boolean training = wanted != null;
        int p = plan.promptLength();
        int len = p + t;
        int m = Math.multiplyExact(batch, len);
        int dm = config.dModel();
        double eps = config.layerNormEpsilon();
        // h = [prompt; embedding[tokens]]: (B, P + T, d)
        long hidden = floats(call, (long) m * dm);
        DevicePlan shared = plan.shared();
        if (p == 0 || !plan.mixed()) {
            k.embed(hidden, ids, shared.value(shared.hooks.prompt()), shared.embedding(), batch, p, t, dm);
        } else {
            for (BatchPlan.Part part : plan.parts()) { // each part's rows with its own prompt
                k.embed(hidden + 4L * part.first() * len * dm, ids + 4L * part.first() * t,
                        part.plan().value(part.plan().hooks.prompt()), shared.embedding(), part.rows(), p, t, dm);
            }
        }
        List<float[]> kept = new ArrayList<>();
        List<LayerTape> tapes = training ? new ArrayList<>() : null;
        Map<Rows, LayerTape> scratch = new HashMap<>(); // training: one per distinct rows (prefix length)
        LayerTape tape = null;
        for (int l = 0; l < config.layers(); l++) {
            Rows rows = new Rows(batch, len, plan.prefixLength(l));
            int ext = shared.layer(l).extensionWidth();
            if (training) {
                boolean keepY = wanted.contains(LanguageModelWeights.layerName(l, "mixer.out_proj.weight"))
                        || !plan.single().deltas(l, "out_proj").isEmpty();
                LayerTape reused = scratch.computeIfAbsent(rows,
                        r -> LayerTape.scratch(call, device.scan(), config, r));
                tape = LayerTape.training(call, device.scan(), config, rows, ext, keepY, reused);
                copy(tape.hiddenIn, hidden, (long) m * dm);
                tapes.add(tape);
            } else if (tape == null || !tape.fits(rows, ext)) {
                tape = LayerTape.inference(call, device.memory(), device.scan(), config, rows, ext);
            }
            block.forward(call, l, hidden, tape, state, plan);
            if (keepHiddenStates) {
                kept.add(download(hidden, (long) m * dm));
            }
        }
        long normed = floats(call, (long) m * dm);
        k.rmsNormForward(normed, hidden, shared.normF(), m, dm, eps);
        if (keepHiddenStates) {
            kept.add(download(normed, (long) m * dm));
        }
        return new Pass(len, m, kept, tapes, hidden, normed, ids);
    }

    // logits (B·perSeq, V) = norm_f(h)·lm_headᵀ + Σ s·B(A·norm_f(h)) of normedF (B·perSeq, d), each part's deltas
    // on its rows
    private void head(DeviceMemory.Arena call, BatchPlan plan, long normedF, int perSeq, long logits) {
        int dm = config.dModel();
        int v = config.vocabSize();
        linear.forward(logits, v, normedF, dm, plan.shared().lmHead(), 0, plan.batch() * perSeq, dm, v);
        lowRank.forward(call, plan, DevicePlan::head, logits, v, normedF, dm, perSeq);
    }

    // logits (rows, V) = norm_f(h)·lm_headᵀ + Σ s·B(A·norm_f(h)) of rows [r0, r0 + rows) of normedF (M, d)
    private void head(DeviceMemory.Arena call, DevicePlan plan, long normedF, int r0, int rows, long logits) {
        int dm = config.dModel();
        int v = config.vocabSize();
        long x = normedF + 4L * r0 * dm;
        linear.forward(logits, v, x, dm, plan.lmHead(), 0, rows, dm, v);
        lowRank.forward(call, plan.head(), logits, v, x, dm, rows);
    }

    /** The logits at most in flight at once in {@link #headLoss}: {@value} floats (256 MB). */
    static final long HEAD_CHUNK_FLOATS = 1L << 26;

    /** System property overriding {@link #HEAD_CHUNK_FLOATS} (a benchmark's knob: a huge value gives one chunk). */
    public static final String HEAD_CHUNK_PROPERTY = "ssmpeft.cuda.headChunkFloats";

    // smaller in tests, to run several chunks on tiny models
    private long headChunkFloats = Math.max(1, Long.getLong(HEAD_CHUNK_PROPERTY, HEAD_CHUNK_FLOATS));

    /** Sets the logits in flight at once in {@link #headLoss} (at least one row's); for tests. */
    void headChunkFloats(long floats) {
        headChunkFloats = Math.max(config.vocabSize(), floats);
    }

    /**
     * The head and the cross-entropy in chunks of rows, so the (M, V) logits are never whole on the device (824 MB
     * in float32 at B 4, L 1024, V 50280, and as much again for their gradient): per chunk of rows
     * <pre>
     *   z = head(norm_f(h))                                        (rows, V)   copied into {@code hostLogits} if given
     *   rowLoss = −log softmax(z)[y];  dz = (softmax(z) − onehot(y)) / count   in place of z (with g)
     *   dNormedF = dz·W (+ Σ LoRA);  dW_head += dzᵀ·norm_f(h);  dA, dB of the head's deltas
     * </pre>
     * Rows without a target get loss 0 and dz 0. The chunks split M into equal parts of at most
     * {@link #HEAD_CHUNK_FLOATS} / V rows; the head's weight gradient sums over rows chunk after chunk.
     *
     * @param g the gradients to fill (training), or null for the loss alone
     * @param dNormedF (M, d) the gradient of norm_f(h), or 0 when nothing below the head needs it
     */
    private void headLoss(DeviceMemory.Arena call, DevicePlan plan, Pass pass, long targets, int count, long rowLoss,
                          float[] hostLogits, DeviceGradients g, long dNormedF) {
        int m = pass.rows();
        int dm = config.dModel();
        int v = config.vocabSize();
        int chunks = (int) Math.max(1, ((long) m * v + headChunkFloats - 1) / headChunkFloats);
        int per = (m + chunks - 1) / chunks;
        long z = floats(call, (long) per * v);
        String headName = config.tieWordEmbeddings() ? LanguageModelWeights.EMBEDDING : LanguageModelWeights.LM_HEAD;
        for (int r0 = 0; r0 < m; r0 += per) {
            int rows = Math.min(per, m - r0);
            try (DeviceMemory.Arena chunk = device.memory().arena()) {
                head(chunk, plan, pass.normedF, r0, rows, z);
                if (hostLogits != null) {
                    System.arraycopy(download(z, (long) rows * v), 0, hostLogits, r0 * v, rows * v);
                }
                device.layers().crossEntropy(g == null ? 0 : z, rowLoss + 4L * r0, z, targets + 4L * r0, rows, v,
                        Math.max(1, count));
                if (g == null) {
                    continue;
                }
                long x = pass.normedF + 4L * r0 * dm;
                long dx = dNormedF == 0 ? 0 : dNormedF + 4L * r0 * dm;
                if (dx != 0) {
                    linear.backwardInput(dx, dm, z, v, plan.lmHead(), 1f, rows, dm, v, false);
                }
                lowRank.backward(chunk, plan.head(), z, v, x, dm, dx, dm, rows, g);
                if (g.base(headName) != 0) {
                    linear.backwardWeight(g.base(headName), z, v, x, dm, 1f, rows, dm, v);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    /**
     * How far the backward goes: the layers with something trainable, the lowest of them, whether it runs through
     * the layers at all and whether the embedding (or a prompt) needs its gradient.
     */
    private record Reach(boolean[] trainableIn, int lowest, boolean throughLayers, boolean embeddingNeedsGrad) {
    }

    private Reach reach(DevicePlan plan, DeviceGradients g, Set<String> wanted) {
        int layers = config.layers();
        boolean embeddingNeedsGrad = g.base(LanguageModelWeights.EMBEDDING) != 0 || plan.promptLength() > 0;
        boolean[] trainableIn = new boolean[layers];
        int lowest = embeddingNeedsGrad ? 0 : layers;
        for (int l = layers - 1; l >= 0; l--) {
            String prefix = LanguageModelWeights.layerName(l, "");
            trainableIn[l] = plan.layer(l).hasHooks() || wanted.stream().anyMatch(n -> n.startsWith(prefix));
            if (trainableIn[l]) {
                lowest = Math.min(lowest, l);
            }
        }
        return new Reach(trainableIn, lowest, lowest < layers, embeddingNeedsGrad);
    }

    /** From dNormedF (M, d), the head's part done by {@link #headLoss}: norm_f, the layers, the embedding. */
    private void backward(DeviceMemory.Arena call, int[][] tokens, BatchPlan rows, Pass pass, long dNormedF,
                          DeviceGradients g, Reach reach) {
        DevicePlan plan = rows.single();
        LayerOps k = device.layers();
        int batch = tokens.length;
        int m = pass.rows();
        int dm = config.dModel();
        int layers = config.layers();
        int p = plan.promptLength();
        if (dNormedF == 0) {
            return;
        }
        long dHidden = reach.throughLayers() ? floats(call, (long) m * dm) : 0;
        k.rmsNormBackward(dHidden, g.base(LanguageModelWeights.NORM_F), dNormedF, pass.finalHidden, plan.normF(), m,
                dm, config.layerNormEpsilon(), false);
        if (!reach.throughLayers()) {
            return;
        }
        boolean belowTrainable = reach.embeddingNeedsGrad();
        boolean[] needInput = new boolean[layers];
        for (int l = 0; l < layers; l++) {
            needInput[l] = belowTrainable;
            belowTrainable |= reach.trainableIn()[l];
        }
        for (int l = layers - 1; l >= reach.lowest(); l--) {
            // each layer's temporaries in an arena of their own, given back before the next layer's
            try (DeviceMemory.Arena layer = device.memory().arena()) {
                block.backward(layer, l, dHidden, pass.tapes.get(l), rows, g, needInput[l]);
            }
        }
        // h = [prompt; embedding[tokens]]: dEmb += at the tokens' rows; dPrompt = Σ_b the first P rows
        long dPrompt = plan.hooks.prompt().map(g::term).orElse(0L);
        if (reach.embeddingNeedsGrad()) {
            k.embeddingBackward(g.base(LanguageModelWeights.EMBEDDING), dPrompt, dHidden, pass.tokenIds, batch, p,
                    tokens[0].length, dm, config.vocabSize());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // training with the trainable tensors resident on the device

    /**
     * A {@link CudaTrainingSession} where this device has the optimiser's kernels and the run's adapters allow it
     * (see {@link CudaTrainingSession#supports}); empty otherwise, and the trainer runs the steps through the host.
     */
    @Override
    public Optional<TrainingSession> residentTraining(
            AdapterSet adapters, TrainingSession.Settings settings) {
        if (device.optimizer().isEmpty()) {
            return Optional.empty();
        }
        HookPlan hooks = HookPlan.resolve(weights, adapters, true);
        if (CudaTrainingSession.supports(hooks, settings).isPresent()) {
            return Optional.empty();
        }
        return Optional.of(device.locked(() -> {
            requireOpen();
            return new CudaTrainingSession(this, device, hooks, settings);
        }));
    }

    /** A micro-batch's loss and target count, its gradients left on the device. */
    record DeviceLoss(double loss, int targets) {
    }

    /**
     * The forward and backward of {@link #lossAndGradients} (logits left out) with the plan {@code hooks}, the terms
     * in {@code resident} read at their device addresses; {@code gradients} receives the gradients on the device,
     * under the device lock, before the call's memory is freed. This is the training session's hook: the same
     * computation as {@link #lossAndGradients} ({@link #trainPass}).
     */
    DeviceLoss lossAndDeviceGradients(HookPlan hooks, Map<org.ssmpeft.runtime.plan.Term, Long> resident,
                                      int[][] tokens, int[][] labels, java.util.function.Consumer<DeviceGradients>
                                              gradients) {
        Set<String> wanted = hooks.gradientBaseNames(Set.of());
        int[] targets = hooks.targets(tokens, labels);
        HookPlan.checkTokens(tokens, tokens.length, config.vocabSize());
        int count = HookPlan.targetCount(targets);
        return call(arena -> {
            DevicePlan plan = DevicePlan.of(hooks, base, weights, device, arena, resident);
            TrainPass p = trainPass(arena, hooks, plan, tokens, targets, count, wanted, false);
            gradients.accept(p.g());
            return new DeviceLoss(meanLoss(download(p.rowLoss(), p.m()), count), count);
        });
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static long floats(DeviceMemory.Arena call, long n) {
        return call.floats(Math.max(1, n));
    }

    private float[] download(long src, long count) {
        return device.memory().download(src, count);
    }

    private void copy(long dst, long src, long floats) {
        device.memory().copy(dst, src, floats);
    }

    /**
     * Frees the states still open and the resident weights, and gives the device's idle memory back to the driver
     * (a device of its own, the emulated one of the tests, is closed too; the process's shared GPU device stays
     * open for the next model). Idempotent.
     */
    @Override
    public void close() {
        device.ifOpen(() -> {
            if (closed) {
                return;
            }
            closed = true;
            for (CudaState s : List.copyOf(states)) {
                s.free();
            }
            base.close();
            device.memory().trim();
        });
        if (ownsDevice) {
            device.close();
        }
    }
}
