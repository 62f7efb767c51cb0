package org.ssmpeft.runtime.cpu;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.PlanGradients;
import org.ssmpeft.runtime.plan.RowPlans;
import org.ssmpeft.runtime.plan.Term;

/**
 * The parts of a language model that do not depend on the block family (Mamba-1 {@link CpuMamba}, Mamba-2
 * {@link CpuMamba2}): the embedding with the prompt, low-rank deltas on any projection, forward and backward, the
 * gradients being accumulated, and the way back into the embedding and the prompt.
 */
final class ModelParts {

    private ModelParts() {
    }

    /** Gradients being accumulated: the plan's, with a buffer per base parameter that needs one. */
    static final class Grads {
        final PlanGradients plan = new PlanGradients();
        final Set<String> wanted;

        Grads(Map<String, Tensor> named, Set<String> wanted) {
            this.wanted = wanted;
            for (String n : wanted) {
                plan.base(n, named.get(n).size());
            }
        }

        /** The gradient buffer of a base parameter, or null when it is frozen. */
        float[] base(String name) {
            return plan.baseOrNull(name);
        }

        void addHook(Term t, float[] g) {
            plan.add(t, g, 0);
        }
    }

    // tokens: (B, T), prompt: (P, d) or none -> h: (B·(P+T), d), rows of the embedding matrix (V, d) after P prompt rows
    static float[] embed(int[][] tokens, Optional<Term> prompt, float[] emb, int dm, int len) {
        float[] h = new float[Math.multiplyExact(Math.multiplyExact(tokens.length, len), dm)];
        embed(h, tokens, 0, tokens.length, prompt, emb, dm, len);
        return h;
    }

    // as above, each segment's rows after its own prompt (P the same for every segment, RowPlans)
    static float[] embed(int[][] tokens, List<RowPlans.Segment> segments, float[] emb, int dm, int len) {
        float[] h = new float[Math.multiplyExact(Math.multiplyExact(tokens.length, len), dm)];
        for (RowPlans.Segment s : segments) {
            embed(h, tokens, s.first(), s.end(), s.plan().prompt(), emb, dm, len);
        }
        return h;
    }

    // rows [first, end) of h
    private static void embed(float[] h, int[][] tokens, int first, int end, Optional<Term> prompt, float[] emb,
                              int dm, int len) {
        int p = prompt.map(t -> t.dim(0)).orElse(0);
        for (int b = first; b < end; b++) {
            int r = b * len;
            if (p > 0) {
                System.arraycopy(prompt.orElseThrow().value(), 0, h, r * dm, p * dm);
                r += p;
            }
            for (int id : tokens[b]) { // ids checked by the plan (HookPlan.checkTokens)
                System.arraycopy(emb, id * dm, h, r * dm, dm);
                r++;
            }
        }
    }

    // dHidden: (B·len, d) the gradient at the embedding output -> dEmb (V, d) += at the tokens' rows (or null), and
    // the prompt's gradient (P, d), summed over the batch rows, to its term
    static void embeddingBackward(int[][] tokens, float[] dHidden, float[] dEmb, Optional<Term> prompt, int dm, int len,
                                  Grads g) {
        int p = prompt.map(t -> t.dim(0)).orElse(0);
        if (dEmb != null) {
            for (int b = 0; b < tokens.length; b++) {
                for (int t = 0; t < tokens[b].length; t++) {
                    int row = (b * len + p + t) * dm;
                    int e = tokens[b][t] * dm;
                    for (int i = 0; i < dm; i++) {
                        dEmb[e + i] += dHidden[row + i];
                    }
                }
            }
        }
        if (p > 0) {
            float[] dPrompt = new float[p * dm];
            for (int b = 0; b < tokens.length; b++) {
                for (int i = 0; i < p * dm; i++) {
                    dPrompt[i] += dHidden[b * len * dm + i];
                }
            }
            g.addHook(prompt.orElseThrow(), dPrompt);
        }
    }

    // y: (M, ldy) += Σ_deltas s·(x·Aᵀ)·Bᵀ on the delta's rows; x: (M, in) row stride ldx
    // DoRA: y[:, rows] += (g − 1) ⊙ (x·W[rows]ᵀ) + g ⊙ s·(x·Aᵀ)·Bᵀ, g = m / n per row (HookPlan.Dora)
    static void lowRank(Parallel par, List<HookPlan.LowRank> deltas, float[] y, int ldy, float[] x, int ldx, int m) {
        lowRank(par, deltas, y, ldy, x, ldx, 0, m);
    }

    // each segment's deltas on its own rows: rows [first·per, end·per) of y and x, per = rows per sequence (the
    // products are row by row, so a row gets the bits it gets alone: Gemm's invariant)
    static void lowRank(Parallel par, List<RowPlans.Segment> segments,
                        Function<HookPlan, List<HookPlan.LowRank>> deltas, float[] y, int ldy, float[] x, int ldx,
                        int per) {
        for (RowPlans.Segment s : segments) {
            lowRank(par, deltas.apply(s.plan()), y, ldy, x, ldx, s.first() * per, s.rows() * per);
        }
    }

    // as above on rows [row0, row0 + m) of y and x
    static void lowRank(Parallel par, List<HookPlan.LowRank> deltas, float[] y, int ldy, float[] x, int ldx, int row0,
                        int m) {
        for (HookPlan.LowRank d : deltas) {
            float[] t = new float[Math.multiplyExact(m, d.rank())];
            Gemm.abT(par, x, row0 * ldx, ldx, d.a().value(), 0, d.in(), null, t, 0, d.rank(), m, d.rank(), d.in());
            if (d.dora().isEmpty()) {
                Linear.forwardAdd(par, y, row0 * ldy + d.rowOffset(), ldy, t, d.rank(), d.b().value(), d.scale(), m,
                        d.rank(), d.out());
                continue;
            }
            HookPlan.Dora dora = d.dora().get();
            float[] gain = dora.gain();
            float[] u = new float[Math.multiplyExact(m, d.out())];
            Linear.forward(par, u, t, d.rank(), d.b().value(), null, m, d.rank(), d.out());
            float[] base = baseRows(par, dora, d, x, row0 * ldx, ldx, m);
            for (int i = 0; i < m; i++) {
                int yr = (row0 + i) * ldy + d.rowOffset();
                for (int j = 0; j < d.out(); j++) {
                    y[yr + j] += (gain[j] - 1f) * base[i * d.out() + j] + gain[j] * (d.scale() * u[i * d.out() + j]);
                }
            }
        }
    }

    // x·W[rows]ᵀ: (M, out) of a DoRA delta's rows of the base weight
    private static float[] baseRows(Parallel par, HookPlan.Dora dora, HookPlan.LowRank d, float[] x, int xOff,
                                    int ldx, int m) {
        float[] base = new float[Math.multiplyExact(m, d.out())];
        Gemm.abT(par, x, xOff, ldx, dora.weight(), d.rowOffset() * d.in(), d.in(), null, base, 0, d.out(), m, d.out(),
                d.in());
        return base;
    }

    // x: (M, in) stride ldx, dy: (M, ldy) the gradient of the projection's whole output -> dA, dB per delta into g;
    // dx: (M, in) stride lddx += Σ s·(dy_rows·B)·A, or null
    // DoRA (n constant): dm = Σ_i dy ⊙ (x·W[rows]ᵀ + s·(x·Aᵀ)·Bᵀ) / n; A, B and x see g ⊙ dy; x also (g − 1) ⊙ dy·W[rows]
    static void lowRankBackward(Parallel par, List<HookPlan.LowRank> deltas, float[] dy, int ldy, float[] x, int ldx,
                                float[] dx, int lddx, int m, Grads g) {
        for (HookPlan.LowRank d : deltas) {
            int r = d.rank();
            float[] t = new float[m * r];
            Linear.forward(par, t, x, ldx, d.a().value(), null, m, d.in(), r);
            float[] dyRows = dy;
            int dyOff = d.rowOffset();
            int lddyRows = ldy;
            if (d.dora().isPresent()) {
                HookPlan.Dora dora = d.dora().get();
                float[] gain = dora.gain();
                float[] u = new float[m * d.out()];
                Linear.forward(par, u, t, r, d.b().value(), null, m, r, d.out());
                float[] base = baseRows(par, dora, d, x, 0, ldx, m);
                float[] dm = new float[d.out()];
                float[] scaled = new float[m * d.out()]; // g ⊙ dy on the rows
                float[] rest = new float[m * d.out()]; // (g − 1) ⊙ dy on the rows
                float[] norm = dora.norm();
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < d.out(); j++) {
                        float gy = dy[i * ldy + d.rowOffset() + j];
                        dm[j] += gy * (base[i * d.out() + j] + d.scale() * u[i * d.out() + j]) / norm[j];
                        scaled[i * d.out() + j] = gain[j] * gy;
                        rest[i * d.out() + j] = (gain[j] - 1f) * gy;
                    }
                }
                g.addHook(dora.magnitude(), dm);
                if (dx != null) {
                    Gemm.ab(par, rest, 0, d.out(), dora.weight(), d.rowOffset() * d.in(), d.in(), dx, 0, lddx, m,
                            d.out(), d.in(), true);
                }
                dyRows = scaled;
                dyOff = 0;
                lddyRows = d.out();
            }
            float[] dB = new float[d.out() * r];
            Linear.backwardWeight(par, dB, dyRows, dyOff, lddyRows, t, r, d.scale(), m, r, d.out());
            float[] dT = new float[m * r];
            Linear.backwardInput(par, dT, r, dyRows, dyOff, lddyRows, d.b().value(), d.scale(), m, r, d.out(), false);
            float[] dA = new float[r * d.in()];
            Linear.backwardWeight(par, dA, dT, 0, r, x, ldx, 1f, m, d.in(), r);
            if (dx != null) {
                Linear.backwardInput(par, dx, lddx, dT, 0, r, d.a().value(), 1f, m, d.in(), r, true);
            }
            g.addHook(d.a(), dA);
            g.addHook(d.b(), dB);
        }
    }

    // dW (out, in) += dyᵀ·x for a trainable weight (g's buffer for name, skipped when frozen)
    static void weightGrad(Parallel par, Grads g, String name, float[] dy, int lddy, float[] x, int ldx, int m,
                           int in, int out) {
        float[] dw = g.base(name);
        if (dw != null) {
            Linear.backwardWeight(par, dw, dy, 0, lddy, x, ldx, 1f, m, in, out);
        }
    }

    // db (out) += Σ_rows dy for a trainable bias
    static void biasGrad(Grads g, String name, float[] dy, int lddy, int m, int out) {
        float[] db = g.base(name);
        if (db != null) {
            Linear.backwardBias(db, dy, 0, lddy, m, out);
        }
    }

    // state: (B, S) += h0 (S) for every sequence: h_{-1} = h_state + Σh0 (a fresh state is zero unless imported)
    static void addInitialState(float[] state, Optional<Term> h0, int batch) {
        addInitialState(state, h0, 0, batch);
    }

    // as above for sequences [first, first + rows) only (a segment of a mixed-adapter batch)
    static void addInitialState(float[] state, Optional<Term> h0, int first, int rows) {
        if (h0.isPresent()) {
            float[] v = h0.get().value();
            for (int b = first; b < first + rows; b++) {
                for (int i = 0; i < v.length; i++) {
                    state[b * v.length + i] += v[i];
                }
            }
        }
    }

    // mixer rows (Mx, w) -> real rows (M, w): the virtual positions of a prefix dropped
    static void copyRealRows(float[] mixerRows, float[] real, CpuLanguageModel.Rows r, int w) {
        for (int b = 0; b < r.batch(); b++) {
            System.arraycopy(mixerRows, (b * r.lx() + r.prefix()) * w, real, b * r.len() * w, r.len() * w);
        }
    }

    // mixer rows (Mx, w) -> a new (M, w) of the real rows
    static float[] realRows(float[] mixerRows, CpuLanguageModel.Rows r, int w) {
        float[] real = new float[r.m() * w];
        copyRealRows(mixerRows, real, r, w);
        return real;
    }

    // real rows (M, w) -> a new (Mx, w), zero at the virtual positions (their outputs were dropped: no gradient)
    static float[] mixerRows(float[] real, CpuLanguageModel.Rows r, int w) {
        float[] out = new float[r.mx() * w];
        for (int b = 0; b < r.batch(); b++) {
            System.arraycopy(real, b * r.len() * w, out, (b * r.lx() + r.prefix()) * w, r.len() * w);
        }
        return out;
    }

    // dMixer: (Mx, ld) -> the prefix's gradient (n, w) from columns [off, off + w) of the virtual rows, summed over
    // the batch (P is shared by the batch rows), added to its term
    static void prefixBackward(float[] dMixer, int ld, int off, int w, CpuLanguageModel.Rows r, Term prefix,
                               Grads g) {
        float[] dPrefix = new float[r.prefix() * w];
        for (int b = 0; b < r.batch(); b++) {
            for (int i = 0; i < r.prefix(); i++) {
                int row = (b * r.lx() + i) * ld + off;
                for (int c = 0; c < w; c++) {
                    dPrefix[i * w + c] += dMixer[row + c];
                }
            }
        }
        g.addHook(prefix, dPrefix);
    }

    // dA_log += dA ⊙ A (A = -exp(A_log): dA/dA_log = A)
    static void logDecayBackward(float[] dALog, float[] dA, float[] a) {
        for (int i = 0; i < dA.length; i++) {
            dALog[i] += dA[i] * a[i];
        }
    }
}
