package org.ssmpeft.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.ssmpeft.runtime.checkpoint.LayerWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;

/**
 * The Mamba-1 language model on the CPU in float32, computing exactly transformers' pure-PyTorch path
 * ({@code MambaForCausalLM}; formats.md §5, DESIGN.md §3). Symbols: B batch, L length, d d_model, D d_inner,
 * N d_state, R dt_rank, K conv kernel, V vocab.
 *
 * <p>{@link #forward} runs a (B, L) block of tokens and advances a {@link MambaCache}; {@link #step} is the same
 * with L = 1, the recurrent decode. Because the conv and scan kernels continue from the cache, a prompt can be fed
 * whole, in chunks, or token by token with the same result.
 *
 * <p>Where hooks attach later (DESIGN.md §3): the input embedding ({@link #embed}), the projections (every
 * {@code Linear.forward} call in {@link #mixer}: in_proj, x_proj, dt_proj, out_proj, and the head), the initial
 * state (the cache's SSM state before the first token), and the state and output offsets (the {@code hOffset} /
 * {@code yOffset} arguments of the scan, fed by the package-private {@link ScanOffsets} for now).
 *
 * <p>Thread-safe: calls share only the read-only weights; each call has its own buffers and its caller's cache.
 */
public final class CpuMamba {

    /** What one forward call produced. */
    public record Output(float[] logits, int batch, int length, int vocab, List<float[]> hiddenStates,
                         MambaCache cache) {
        /**
         * @param logits       (B, L, V)
         * @param hiddenStates empty unless requested; else per block the residual stream after it (B, L, d), then
         *                     the output of norm_f (B, L, d): transformers' {@code output_hidden_states}
         * @param cache        the cache after the last token
         */
        public Output {
            hiddenStates = List.copyOf(hiddenStates);
        }
    }

    private final MambaWeights weights;
    private final MambaConfig config;
    private final Parallel par;
    private final List<float[]> negA; // per layer A = -exp(A_log): (D, N)

    /** Uses a shared pool with one worker per available processor (daemon threads). */
    public CpuMamba(MambaWeights weights) {
        this(weights, Parallel.defaultPool());
    }

    public CpuMamba(MambaWeights weights, ForkJoinPool pool) {
        this.weights = weights;
        this.config = weights.config();
        this.par = new Parallel(pool);
        var a = new ArrayList<float[]>();
        for (LayerWeights l : weights.layers()) {
            float[] na = new float[l.aLog().length];
            for (int i = 0; i < na.length; i++) {
                na[i] = (float) -Math.exp(l.aLog()[i]);
            }
            a.add(na);
        }
        this.negA = List.copyOf(a);
    }

    public MambaConfig config() {
        return config;
    }

    public MambaWeights weights() {
        return weights;
    }

    /** An all-zero cache for {@code batch} sequences. */
    public MambaCache newCache(int batch) {
        return MambaCache.zeros(config, batch);
    }

    /** Full forward of fresh sequences (B, L) -> logits (B, L, V), with the cache after the last token. */
    public Output forward(int[][] tokens) {
        return forward(tokens, newCache(tokens.length), false);
    }

    /**
     * Runs tokens (B, L) from the state in {@code cache} (advanced in place) -> logits (B, L, V).
     *
     * @param keepHiddenStates also return the residual stream after every block and after norm_f
     */
    public Output forward(int[][] tokens, MambaCache cache, boolean keepHiddenStates) {
        return forward(tokens, cache, keepHiddenStates, ScanOffsets.NONE);
    }

    Output forward(int[][] tokens, MambaCache cache, boolean keepHiddenStates, ScanOffsets offsets) {
        int batch = tokens.length;
        if (batch == 0 || batch != cache.batch()) {
            throw new IllegalArgumentException("forward: expected " + cache.batch() + " token rows (the cache's"
                    + " batch), found " + batch);
        }
        int len = tokens[0].length;
        for (int b = 0; b < batch; b++) {
            if (tokens[b].length != len) {
                throw new IllegalArgumentException("forward: token rows must have equal length; row 0 has " + len
                        + ", row " + b + " has " + tokens[b].length);
            }
        }
        if (len == 0) {
            throw new IllegalArgumentException("forward: expected at least one token per row, found none");
        }
        int m = Math.multiplyExact(batch, len);
        int dm = config.dModel();
        float[] hidden = embed(tokens, m);
        var kept = new ArrayList<float[]>();
        var buf = new Buffers(config, m);
        for (int i = 0; i < config.layers(); i++) {
            mixer(i, hidden, buf, cache, offsets, batch, len);
            if (keepHiddenStates) {
                kept.add(hidden.clone());
            }
        }
        cache.advance(len);
        float[] normed = buf.normed;
        RmsNorm.forward(par, normed, hidden, weights.normF(), m, dm, config.layerNormEpsilon());
        if (keepHiddenStates) {
            kept.add(normed.clone());
        }
        int v = config.vocabSize();
        float[] logits = new float[Math.multiplyExact(m, v)];
        // logits = norm_f(h) · lm_headᵀ: (B·L, d) x (V, d)ᵀ -> (B·L, V)
        Linear.forward(par, logits, normed, dm, weights.lmHead(), null, m, dm, v);
        return new Output(logits, batch, len, v, kept, cache);
    }

    /**
     * Per-layer additive terms of the scan read-out, where state-offset tuning plugs in (DESIGN.md §3):
     * {@code hOffset} h' (D, N) adds {@code silu(z_t)·(C_t·h')}, {@code yOffset} y' (D) adds {@code silu(z_t)·y'}.
     * Each list is empty (no term) or has one entry per layer. Package-private until peft-api's hook types land.
     */
    record ScanOffsets(List<float[]> hOffset, List<float[]> yOffset) {
        static final ScanOffsets NONE = new ScanOffsets(List.of(), List.of());

        float[] h(int layer) {
            return hOffset.isEmpty() ? null : hOffset.get(layer);
        }

        float[] y(int layer) {
            return yOffset.isEmpty() ? null : yOffset.get(layer);
        }
    }

    /** One decode step: one token per sequence (B) -> logits (B, V), advancing {@code cache}. */
    public float[] step(int[] tokens, MambaCache cache) {
        int[][] column = new int[tokens.length][];
        for (int b = 0; b < tokens.length; b++) {
            column[b] = new int[] {tokens[b]};
        }
        return forward(column, cache, false).logits();
    }

    // tokens: (B, L) -> h: (B·L, d), rows of the embedding matrix (V, d)
    private float[] embed(int[][] tokens, int m) {
        int dm = config.dModel();
        int v = config.vocabSize();
        float[] h = new float[Math.multiplyExact(m, dm)];
        int r = 0;
        for (int[] row : tokens) {
            for (int id : row) {
                if (id < 0 || id >= v) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + v + ")");
                }
                System.arraycopy(weights.embedding(), id * dm, h, r * dm, dm);
                r++;
            }
        }
        return h;
    }

    /** Per-call activation buffers, one set reused by every layer. */
    private static final class Buffers {
        final float[] normed; // (M, d)
        final float[] xz;     // (M, 2D): [x | z] per row
        final float[] xc;     // (M, D): silu(conv(x))
        final float[] xdbl;   // (M, R + 2N): [dt_low | B | C] per row
        final float[] dt;     // (M, D)
        final float[] y;      // (M, D)
        final float[] out;    // (M, d)

        Buffers(MambaConfig c, int m) {
            int dm = c.dModel();
            int di = c.dInner();
            normed = new float[Math.multiplyExact(m, dm)];
            xz = new float[Math.multiplyExact(m, 2 * di)];
            xc = new float[Math.multiplyExact(m, di)];
            xdbl = new float[Math.multiplyExact(m, c.dtRank() + 2 * c.dState())];
            dt = new float[Math.multiplyExact(m, di)];
            y = new float[Math.multiplyExact(m, di)];
            out = new float[Math.multiplyExact(m, dm)];
        }
    }

    // One block: h <- h + out_proj(scan(...)), the residual stream h: (B, L, d) updated in place.
    private void mixer(int layer, float[] hidden, Buffers buf, MambaCache cache, ScanOffsets offsets, int batch,
                       int len) {
        LayerWeights w = weights.layers().get(layer);
        int m = batch * len;
        int dm = config.dModel();
        int di = config.dInner();
        int n = config.dState();
        int r = config.dtRank();
        int xw = r + 2 * n;

        // u = RMSNorm(h): (M, d)
        RmsNorm.forward(par, buf.normed, hidden, w.norm(), m, dm, config.layerNormEpsilon());
        // [x | z] = in_proj(u): (M, d) -> (M, 2D)
        Linear.forward(par, buf.xz, buf.normed, dm, w.inProj(), w.inProjBias().orElse(null), m, dm, 2 * di);
        // x = silu(conv1d(x) + bias): (M, D), continuing the conv state (B, D, K)
        CausalConv1d.forwardSilu(par, buf.xc, buf.xz, 2 * di, w.convWeight(), w.convBias().orElse(null),
                cache.convState(layer), batch, len, di, config.convKernel());
        // [dt_low | B | C] = x_proj(x): (M, D) -> (M, R + 2N)
        Linear.forward(par, buf.xdbl, buf.xc, di, w.xProj(), null, m, di, xw);
        // dt = softplus(dt_proj(dt_low) + bias): (M, R) -> (M, D)
        Linear.forward(par, buf.dt, buf.xdbl, xw, w.dtProj(), w.dtProjBias(), m, r, di);
        par.forRange(buf.dt.length, 1, 1 << 16, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                buf.dt[i] = Activations.softplus(buf.dt[i]);
            }
        });
        // y = (C·h + D·x) · silu(z): (M, D), advancing the SSM state (B, D, N)
        SelectiveScan.forward(par, buf.y, buf.xc, buf.dt, negA.get(layer), buf.xdbl, xw, r, w.d(), buf.xz, 2 * di,
                di, cache.ssmState(layer), offsets.h(layer), offsets.y(layer), batch, len, di, n);
        // h += out_proj(y): (M, D) -> (M, d)
        Linear.forward(par, buf.out, buf.y, di, w.outProj(), w.outProjBias().orElse(null), m, di, dm);
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] += buf.out[i];
        }
    }
}
