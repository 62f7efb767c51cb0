package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.cuda.driver.Bf16;
import org.ssmpeft.runtime.cuda.model.HostMemory.View;

/**
 * {@link org.ssmpeft.runtime.cuda.layers.LayerKernels}' contract (its javadoc, method by method) in plain Java on
 * {@link HostMemory}, for running the model without a GPU. Written from the contract, not from the kernels: it checks
 * how the model uses the contract, not the kernels.
 */
final class HostLayers implements LayerOps {

    private final HostMemory mem;
    private final boolean roundBf16;

    HostLayers(HostMemory mem) {
        this(mem, true);
    }

    /**
     * @param roundBf16 false for a check of the model's bf16 routing alone: {@link #toBf16} then copies the values
     *                  unrounded into the bf16 buffers, so a bf16 model must compute its fp32 twin's results exactly
     */
    HostLayers(HostMemory mem, boolean roundBf16) {
        this.mem = mem;
        this.roundBf16 = roundBf16;
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    static float siluGrad(float x) {
        double s = 1.0 / (1.0 + Math.exp(-x));
        return (float) (s * (1.0 + x * (1.0 - s)));
    }

    @Override
    public void embed(long h, long tokens, long prompt, long emb, int batch, int promptLength, int tokensPerRow,
                      int dModel) {
        View hv = mem.view(h);
        View tv = mem.view(tokens);
        View pv = mem.viewOrNull(prompt);
        View ev = mem.view(emb);
        int len = promptLength + tokensPerRow;
        for (int b = 0; b < batch; b++) {
            for (int p = 0; p < promptLength; p++) {
                for (int i = 0; i < dModel; i++) {
                    hv.set(((long) b * len + p) * dModel + i, pv.get((long) p * dModel + i));
                }
            }
            for (int t = 0; t < tokensPerRow; t++) {
                int id = tv.getInt((long) b * tokensPerRow + t);
                for (int i = 0; i < dModel; i++) {
                    hv.set(((long) b * len + promptLength + t) * dModel + i, ev.get((long) id * dModel + i));
                }
            }
        }
    }

    @Override
    public void embeddingBackward(long dEmb, long dPrompt, long dHidden, long tokens, int batch, int promptLength,
                                  int tokensPerRow, int dModel, int vocab) {
        View dh = mem.view(dHidden);
        View tv = mem.view(tokens);
        int len = promptLength + tokensPerRow;
        if (dEmb != 0) {
            View de = mem.view(dEmb);
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < tokensPerRow; t++) {
                    int id = tv.getInt((long) b * tokensPerRow + t);
                    if (id < 0 || id >= vocab) {
                        throw new IllegalArgumentException("token " + id);
                    }
                    for (int i = 0; i < dModel; i++) {
                        de.add((long) id * dModel + i, dh.get(((long) b * len + promptLength + t) * dModel + i));
                    }
                }
            }
        }
        if (dPrompt != 0) {
            View dp = mem.view(dPrompt);
            for (int i = 0; i < promptLength * dModel; i++) {
                float acc = 0f;
                for (int b = 0; b < batch; b++) {
                    acc += dh.get((long) b * len * dModel + i);
                }
                dp.set(i, acc);
            }
        }
    }

    @Override
    public void rmsNormForward(long y, long x, long w, int m, int d, double eps) {
        View yv = mem.view(y);
        View xv = mem.view(x);
        View wv = mem.view(w);
        for (int r = 0; r < m; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) {
                double v = xv.get((long) r * d + i);
                ss += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
            for (int i = 0; i < d; i++) {
                yv.set((long) r * d + i, wv.get(i) * (xv.get((long) r * d + i) * inv));
            }
        }
    }

    @Override
    public void rmsNormBackward(long dx, long dw, long dy, long x, long w, int m, int d, double eps,
                                boolean accumulate) {
        View dyv = mem.view(dy);
        View xv = mem.view(x);
        View wv = mem.view(w);
        View dxv = mem.viewOrNull(dx);
        double[] dwAcc = new double[d];
        for (int r = 0; r < m; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) {
                double v = xv.get((long) r * d + i);
                ss += v * v;
            }
            double rr = 1.0 / Math.sqrt(ss / d + eps);
            float inv = (float) rr;
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) wv.get(i) * dyv.get((long) r * d + i) * xv.get((long) r * d + i);
            }
            double k = dot * rr * rr * rr / d;
            for (int i = 0; i < d; i++) {
                long at = (long) r * d + i;
                dwAcc[i] += (double) dyv.get(at) * (xv.get(at) * inv);
                if (dxv != null) {
                    float g = (float) (rr * wv.get(i) * dyv.get(at) - xv.get(at) * k);
                    if (accumulate) {
                        dxv.add(at, g);
                    } else {
                        dxv.set(at, g);
                    }
                }
            }
        }
        if (dw != 0) {
            View dwv = mem.view(dw);
            for (int i = 0; i < d; i++) {
                dwv.add(i, (float) dwAcc[i]);
            }
        }
    }

    @Override
    public void convSiluForward(long y, long pre, long x, int ldx, long w, long bias, long state, int batch, int len,
                                int channels, int kernel) {
        View yv = mem.view(y);
        View pv = mem.viewOrNull(pre);
        View xv = mem.view(x);
        View wv = mem.view(w);
        View bv = mem.viewOrNull(bias);
        View sv = mem.viewOrNull(state); // null: a zero state, nothing kept (training)
        int k = kernel;
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < len; t++) {
                long row = ((long) b * len + t) * channels;
                for (int c = 0; c < channels; c++) {
                    float acc = bv == null ? 0f : bv.get(c);
                    long s = ((long) b * channels + c) * k;
                    for (int j = 0; j < k; j++) {
                        int e = t + 1 + j;
                        float v = e < k ? (sv == null ? 0f : sv.get(s + e))
                                : xv.get(((long) b * len + e - k) * ldx + c);
                        acc += wv.get((long) c * k + j) * v;
                    }
                    if (pv != null) {
                        pv.set(row + c, acc);
                    }
                    yv.set(row + c, silu(acc));
                }
            }
            for (int c = 0; c < channels && sv != null; c++) {
                long s = ((long) b * channels + c) * k;
                for (int j = 0; j < k; j++) {
                    int e = len + j;
                    sv.set(s + j, e < k ? sv.get(s + e) : xv.get(((long) b * len + e - k) * ldx + c));
                }
            }
        }
    }

    @Override
    public void convSiluBackward(long dx, int lddx, long dw, long dBias, long dy, long pre, long x, int ldx, long w,
                                 int batch, int len, int channels, int kernel) {
        View dxv = mem.view(dx);
        View dwv = mem.viewOrNull(dw);
        View dbv = mem.viewOrNull(dBias);
        View dyv = mem.view(dy);
        View pv = mem.view(pre);
        View xv = mem.view(x);
        View wv = mem.view(w);
        int k = kernel;
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < channels; c++) {
                float[] dp = new float[len];
                for (int t = 0; t < len; t++) {
                    long at = ((long) b * len + t) * channels + c;
                    dp[t] = dyv.get(at) * siluGrad(pv.get(at));
                }
                for (int s = 0; s < len; s++) {
                    float acc = 0f;
                    for (int j = 0; j < k; j++) {
                        int t = s + k - 1 - j;
                        if (t < len) {
                            acc += dp[t] * wv.get((long) c * k + j);
                        }
                    }
                    dxv.set(((long) b * len + s) * lddx + c, acc);
                }
                if (dbv != null) {
                    float acc = 0f;
                    for (int t = 0; t < len; t++) {
                        acc += dp[t];
                    }
                    dbv.add(c, acc);
                }
                if (dwv != null) {
                    for (int j = 0; j < k; j++) {
                        float acc = 0f;
                        for (int t = 0; t < len; t++) {
                            int e = t + 1 + j - k;
                            if (e >= 0) {
                                acc += dp[t] * xv.get(((long) b * len + e) * ldx + c);
                            }
                        }
                        dwv.add((long) c * k + j, acc);
                    }
                }
            }
        }
    }

    @Override
    public void softplusInPlace(long x, long n) {
        View v = mem.view(x);
        for (long i = 0; i < n; i++) {
            v.set(i, softplus(v.get(i)));
        }
    }

    static float softplus(float z) {
        return z > 20f ? z : (float) Math.log1p(Math.exp(z));
    }

    // the fused decode step's kernels, as compositions of the calls the general path makes, so a row computes the
    // same bits through either (the emulation checks the model's routing; DecodeKernelsGpuTest checks the kernels)

    @Override
    public void normProduct(long y, int ldy, long xn, long x, int ldx, long g, double eps, long w, long bias, int m,
                            int in, int out) {
        if (xn == 0 || ldx != in) {
            throw new IllegalArgumentException("the emulated normProduct wants xn and contiguous rows (the model's"
                    + " call)");
        }
        rmsNormForward(xn, x, g, m, in, eps);
        new HostProducts(mem).forward(y, ldy, xn, in, w, bias, m, in, out);
    }

    @Override
    public void productAdd(long y, int ldy, long x, int ldx, long w, int m, int in, int out) {
        new HostProducts(mem).forwardAdd(y, ldy, x, ldx, w, 1f, m, in, out);
    }

    @Override
    public void convXProj(long xc, long part, long xdbl, long counter, long x, int ldx, long cw, long cb,
                          long state, long wx, int m, int d, int kernel, int xw) {
        if (mem.view(counter).getInt(0) != 0) {
            throw new IllegalStateException("convXProj: its block counter is not 0");
        }
        convSiluForward(xc, 0, x, ldx, cw, cb, state, m, 1, d, kernel);
        new HostProducts(mem).forward(xdbl, xw, xc, d, wx, 0, m, d, xw);
    }

    @Override
    public void dtSoftplus(long dt, long xdbl, int ld, long w, long b, int m, int r, int d) {
        View out = mem.view(dt);
        View x = mem.view(xdbl);
        View wv = mem.view(w);
        View bv = mem.viewOrNull(b);
        for (int row = 0; row < m; row++) {
            for (int c = 0; c < d; c++) {
                float acc = 0f;
                for (int k = 0; k < r; k++) {
                    acc = acc + x.get((long) row * ld + k) * wv.get((long) c * r + k);
                }
                if (bv != null) {
                    acc = acc + bv.get(c);
                }
                out.set((long) row * d + c, softplus(acc));
            }
        }
    }

    @Override
    public void softplusBackwardInPlace(long dx, long y, long n) {
        View d = mem.view(dx);
        View yv = mem.view(y);
        for (long i = 0; i < n; i++) {
            d.set(i, d.get(i) * (float) -Math.expm1(-yv.get(i)));
        }
    }

    @Override
    public void crossEntropy(long dlogits, long rowLoss, long logits, long targets, int m, int vocab, int count) {
        View lv = mem.view(logits);
        View rl = mem.view(rowLoss);
        View tv = mem.view(targets);
        View dv = mem.viewOrNull(dlogits);
        for (int r = 0; r < m; r++) {
            long o = (long) r * vocab;
            int y = tv.getInt(r);
            if (y == -100) {
                rl.set(r, 0f);
                if (dv != null) {
                    for (int i = 0; i < vocab; i++) {
                        dv.set(o + i, 0f);
                    }
                }
                continue;
            }
            double lse = logSumExp(lv, o, vocab);
            rl.set(r, (float) (lse - lv.get(o + y)));
            if (dv != null) {
                float[] p = new float[vocab];
                for (int i = 0; i < vocab; i++) {
                    double q = Math.exp(lv.get(o + i) - lse);
                    p[i] = (float) ((i == y ? q - 1 : q) / count);
                }
                for (int i = 0; i < vocab; i++) {
                    dv.set(o + i, p[i]); // may be the logits' buffer: read the row before writing it
                }
            }
        }
    }

    // log Σ exp of the row at o (vocab floats) in double: the max, then Σ exp(x − max) in index order (the kernel's
    // formula; its sum runs over the block's threads)
    private static double logSumExp(View v, long o, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, v.get(o + i));
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(v.get(o + i) - max);
        }
        return max + Math.log(sum);
    }

    @Override
    public void topTokens(long ids, long logp, long logits, int rows, int vocab, int n, long excluded, long work) {
        View lv = mem.view(logits);
        View iv = mem.view(ids);
        View pv = mem.view(logp);
        View ev = mem.viewOrNull(excluded);
        for (int r = 0; r < rows; r++) {
            long o = (long) r * vocab;
            double lse = logSumExp(lv, o, vocab);
            boolean[] taken = new boolean[vocab];
            for (int q = 0; q < n; q++) {
                int best = -1;
                for (int i = 0; i < vocab; i++) {
                    float v = lv.get(o + i);
                    boolean skip = Float.isNaN(v) || taken[i]
                            || (ev != null && ((ev.getInt(i >> 5) >>> (i & 31)) & 1) != 0);
                    if (!skip && (best < 0 || v > lv.get(o + best))) {
                        best = i; // strictly greater: ties stay with the lower id
                    }
                }
                iv.set((long) r * n + q, Float.intBitsToFloat(best));
                pv.set((long) r * n + q, best < 0 ? Float.NaN : (float) (lv.get(o + best) - lse));
                if (best >= 0) {
                    taken[best] = true;
                }
            }
        }
    }

    @Override
    public void doraForward(long y, int ldy, long base, long u, long gain, float scale, int m, int out) {
        View yv = mem.view(y);
        View bv = mem.view(base);
        View uv = mem.view(u);
        View gv = mem.view(gain);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < out; j++) {
                float g = gv.get(j);
                yv.add((long) i * ldy + j, (g - 1f) * bv.get((long) i * out + j) + g * (scale * uv.get(
                        (long) i * out + j)));
            }
        }
    }

    @Override
    public void doraBackward(long dMagnitude, long scaled, long rest, long dy, int lddy, long base, long u, long gain,
                             long norm, float scale, int m, int out) {
        View dm = mem.view(dMagnitude);
        View sc = mem.view(scaled);
        View re = mem.view(rest);
        View dyv = mem.view(dy);
        View bv = mem.view(base);
        View uv = mem.view(u);
        View gv = mem.view(gain);
        View nv = mem.view(norm);
        float[] acc = new float[out];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < out; j++) {
                float gy = dyv.get((long) i * lddy + j);
                long at = (long) i * out + j;
                acc[j] += gy * (bv.get(at) + scale * uv.get(at)) / nv.get(j);
                sc.set(at, gv.get(j) * gy);
                re.set(at, (gv.get(j) - 1f) * gy);
            }
        }
        for (int j = 0; j < out; j++) {
            dm.set(j, acc[j]);
        }
    }

    /** Each element rounded to the nearest bf16, ties to even ({@code Bf16.round}: the kernel's cvt.rn.bf16.f32). */
    @Override
    public void toBf16(long dst, long src, int ldSrc, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        View d = mem.bf16View(dst);
        View s = mem.view(src);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = s.get((long) r * ldSrc + c);
                d.set((long) r * cols + c, roundBf16 ? Bf16.round(v) : v);
            }
        }
    }

    @Override
    public void copy2d(long dst, int ldDst, long src, int ldSrc, int rows, int cols) {
        View d = mem.view(dst);
        View s = mem.view(src);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                d.set((long) r * ldDst + c, s.get((long) r * ldSrc + c));
            }
        }
    }

    @Override
    public void fill(long dst, long n, float value) {
        View d = mem.view(dst);
        for (long i = 0; i < n; i++) {
            d.set(i, value);
        }
    }

    @Override
    public void addScaled(long y, long x, float scale, long n) {
        View yv = mem.view(y);
        View xv = mem.view(x);
        for (long i = 0; i < n; i++) {
            yv.add(i, scale * xv.get(i));
        }
    }

    @Override
    public void sumBatches(long dst, long src, int batches, long batchStride, int rows, int cols, int ld,
                           boolean accumulate) {
        View d = mem.view(dst);
        View s = mem.view(src);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float acc = 0f;
                for (int b = 0; b < batches; b++) {
                    acc += s.get(b * batchStride + (long) r * ld + c);
                }
                long at = (long) r * cols + c;
                if (accumulate) {
                    d.add(at, acc);
                } else {
                    d.set(at, acc);
                }
            }
        }
    }

    @Override
    public void addBroadcast(long state, long v, int batch, int size) {
        View s = mem.view(state);
        View vv = mem.view(v);
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < size; i++) {
                s.add((long) b * size + i, vv.get(i));
            }
        }
    }

    @Override
    public void gatherRows(long dst, long src, long rows, int n, long size) {
        View d = mem.view(dst);
        View s = mem.view(src);
        View r = mem.view(rows);
        for (int i = 0; i < n; i++) {
            long from = (long) r.getInt(i) * size;
            for (long c = 0; c < size; c++) {
                d.set(i * size + c, s.get(from + c));
            }
        }
    }

    @Override
    public void negExp(long negA, long aLog, long n) {
        View d = mem.view(negA);
        View s = mem.view(aLog);
        for (long i = 0; i < n; i++) {
            d.set(i, (float) -Math.exp(s.get(i)));
        }
    }

    @Override
    public void mulAdd(long dst, long a, long b, long n) {
        View d = mem.view(dst);
        View av = mem.view(a);
        View bv = mem.view(b);
        for (long i = 0; i < n; i++) {
            d.add(i, av.get(i) * bv.get(i));
        }
    }
}
