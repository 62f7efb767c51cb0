package org.ssmpeft.runtime.cuda.model;

/**
 * {@link OptimizerOps} emulated on {@link HostMemory}: the contracts of {@code optimizer.cu}'s kernels in plain Java,
 * in their arithmetic and order (float64 sums held as two floats' raw bits, the norm's block reduction of
 * {@code NORM_THREADS} strided partial sums and a tree, {@link Math#fma} where the kernel calls fmaf). With the
 * emulated model it runs the whole device training path without a GPU.
 */
final class HostOptimizer implements OptimizerOps {

    static final int NORM_THREADS = org.ssmpeft.runtime.cuda.layers.OptimizerKernels.NORM_THREADS;

    private final HostMemory mem;

    HostOptimizer(HostMemory mem) {
        this.mem = mem;
    }

    static double getDouble(HostMemory.View d, long i) {
        long lo = Float.floatToRawIntBits(d.get(2 * i)) & 0xffffffffL;
        long hi = Float.floatToRawIntBits(d.get(2 * i + 1)) & 0xffffffffL;
        return Double.longBitsToDouble(hi << 32 | lo);
    }

    static void setDouble(HostMemory.View d, long i, double value) {
        long bits = Double.doubleToRawLongBits(value);
        d.set(2 * i, Float.intBitsToFloat((int) bits));
        d.set(2 * i + 1, Float.intBitsToFloat((int) (bits >>> 32)));
    }

    private static void flag(HostMemory.View bad, long index) {
        if (index < bad.getInt(0)) {
            bad.set(0, Float.intBitsToFloat((int) index));
        }
    }

    @Override
    public void accumulateGradient(long sum, long g, double weight, long n, long firstBad) {
        HostMemory.View s = mem.view(sum);
        HostMemory.View gv = mem.view(g);
        HostMemory.View bad = mem.view(firstBad);
        for (long i = 0; i < n; i++) {
            float x = gv.get(i);
            if (!Float.isFinite(x)) {
                flag(bad, i);
            }
            setDouble(s, i, getDouble(s, i) + weight * (double) x);
        }
    }

    @Override
    public void finishGradient(long g, long sum, double targets, long n) {
        HostMemory.View gv = mem.view(g);
        HostMemory.View s = mem.view(sum);
        for (long i = 0; i < n; i++) {
            gv.set(i, targets > 0 ? (float) (getDouble(s, i) / targets) : 0f);
        }
    }

    @Override
    public void segmentSumSquares(long out, long g, long table, int segments) {
        HostMemory.View o = mem.view(out);
        HostMemory.View gv = mem.view(g);
        HostMemory.View t = mem.view(table);
        for (int s = 0; s < segments; s++) {
            int offset = t.getInt(4L * s);
            int length = t.getInt(4L * s + 1);
            double[] part = new double[NORM_THREADS];
            for (int th = 0; th < NORM_THREADS; th++) {
                double acc = 0;
                for (int i = th; i < length; i += NORM_THREADS) {
                    double x = gv.get(offset + i);
                    acc = acc + x * x;
                }
                part[th] = acc;
            }
            for (int w = NORM_THREADS / 2; w > 0; w >>= 1) {
                for (int th = 0; th < w; th++) {
                    part[th] = part[th] + part[th + w];
                }
            }
            setDouble(o, s, part[0]);
        }
    }

    @Override
    public void adamwStep(long theta, long m, long v, long g, long table, int segments, long maxLength, float coef,
                          float oneMinusBeta1, float beta2, float oneMinusBeta2, float bias2Sqrt, float eps,
                          long firstBad) {
        HostMemory.View th = mem.view(theta);
        HostMemory.View mv = mem.view(m);
        HostMemory.View vv = mem.view(v);
        HostMemory.View gv = mem.view(g);
        HostMemory.View t = mem.view(table);
        HostMemory.View bad = mem.view(firstBad);
        for (int s = 0; s < segments; s++) {
            int offset = t.getInt(4L * s);
            int length = t.getInt(4L * s + 1);
            float stepSize = t.get(4L * s + 2);
            float keep = t.get(4L * s + 3);
            for (int i = 0; i < length; i++) {
                int at = offset + i;
                float gi = gv.get(at) * coef;
                gv.set(at, gi);
                float x = th.get(at) * keep;
                float mi = Math.fma(oneMinusBeta1, gi - mv.get(at), mv.get(at));
                float vi = Math.fma(oneMinusBeta2 * gi, gi, vv.get(at) * beta2);
                float denom = (float) Math.sqrt(vi) / bias2Sqrt + eps;
                x = x + (-stepSize * mi) / denom;
                mv.set(at, mi);
                vv.set(at, vi);
                th.set(at, x);
                if (!Float.isFinite(x)) {
                    flag(bad, at);
                }
            }
        }
    }
}
