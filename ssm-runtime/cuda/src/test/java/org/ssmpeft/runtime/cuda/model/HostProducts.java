package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.backend.Precision;
import org.ssmpeft.runtime.cuda.model.HostMemory.View;

/**
 * {@link org.ssmpeft.runtime.cuda.layers.DeviceLinear}'s contract in plain Java on {@link HostMemory} (double
 * accumulation), for running the model without a GPU, in one precision:
 * <ul>
 *   <li>fp32: the operands as they are;</li>
 *   <li>tf32: each fp32 input element rounded to TF32 (8-bit exponent, 10-bit mantissa, to nearest, ties to even)
 *       as it is read. The tensor cores' own conversion is not documented bit for bit (rounding or truncation), so
 *       this emulates the size of the error, not its bits; outputs stay fp32;</li>
 *   <li>bf16: the two inputs of each product are read from bf16 buffers ({@link HostMemory#bf16View}: the model
 *       must have converted them, or the read fails), outputs, bias and dy of the bias gradient fp32.</li>
 * </ul>
 */
final class HostProducts implements ProductOps {

    private final HostMemory mem;
    private final Precision precision;

    HostProducts(HostMemory mem) {
        this(mem, Precision.FLOAT32);
    }

    HostProducts(HostMemory mem, Precision precision) {
        this.mem = mem;
        this.precision = precision;
    }

    /** An input of a product: bf16 buffers for bf16, else fp32 (rounded to TF32 as read for tf32). */
    private Input input(long address) {
        return switch (precision) {
            case FLOAT32 -> mem.view(address)::get;
            case TF32 -> {
                View v = mem.view(address);
                yield i -> tf32(v.get(i));
            }
            case BF16 -> mem.bf16View(address)::get;
        };
    }

    private interface Input {
        float get(long i);
    }

    /** {@code f} rounded to the nearest TF32 (the low 13 mantissa bits dropped, ties to even); NaN and ∞ kept. */
    static float tf32(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        int rounding = 0xFFF + ((bits >>> 13) & 1);
        return Float.intBitsToFloat((bits + rounding) & 0xFFFFE000);
    }

    @Override
    public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
        View yv = mem.view(y);
        View bv = mem.viewOrNull(b);
        Input xv = in == 0 || m == 0 || out == 0 ? null : input(x);
        Input wv = xv == null ? null : input(w);
        for (int i = 0; i < m; i++) {
            for (int o = 0; o < out; o++) {
                double acc = bv == null ? 0 : bv.get(o);
                for (int k = 0; k < in; k++) {
                    acc += (double) xv.get((long) i * ldx + k) * wv.get((long) o * in + k);
                }
                yv.set((long) i * ldy + o, (float) acc);
            }
        }
    }

    @Override
    public void forwardAdd(long y, int ldy, long x, int ldx, long w, float scale, int m, int in, int out) {
        if (m == 0 || in == 0 || out == 0) {
            return;
        }
        View yv = mem.view(y);
        Input xv = input(x);
        Input wv = input(w);
        for (int i = 0; i < m; i++) {
            for (int o = 0; o < out; o++) {
                double acc = 0;
                for (int k = 0; k < in; k++) {
                    acc += (double) xv.get((long) i * ldx + k) * wv.get((long) o * in + k);
                }
                yv.add((long) i * ldy + o, (float) (scale * acc));
            }
        }
    }

    @Override
    public void backwardInput(long dx, int lddx, long dy, int lddy, long w, float scale, int m, int in, int out,
                              boolean accumulate) {
        if (m == 0 || in == 0) {
            return;
        }
        View dxv = mem.view(dx);
        Input dyv = out == 0 ? null : input(dy);
        Input wv = out == 0 ? null : input(w);
        for (int i = 0; i < m; i++) {
            for (int k = 0; k < in; k++) {
                double acc = 0;
                for (int o = 0; o < out; o++) {
                    acc += (double) dyv.get((long) i * lddy + o) * wv.get((long) o * in + k);
                }
                float v = (float) (scale * acc);
                if (accumulate) {
                    dxv.add((long) i * lddx + k, v);
                } else {
                    dxv.set((long) i * lddx + k, v);
                }
            }
        }
    }

    @Override
    public void backwardWeight(long dw, long dy, int lddy, long x, int ldx, float scale, int m, int in, int out) {
        if (m == 0 || in == 0 || out == 0) {
            return;
        }
        View dwv = mem.view(dw);
        Input dyv = input(dy);
        Input xv = input(x);
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < in; k++) {
                double acc = 0;
                for (int i = 0; i < m; i++) {
                    acc += (double) dyv.get((long) i * lddy + o) * xv.get((long) i * ldx + k);
                }
                dwv.add((long) o * in + k, (float) (scale * acc));
            }
        }
    }

    @Override
    public void backwardBias(long db, long dy, int lddy, int m, int out) {
        View dbv = mem.view(db);
        View dyv = mem.view(dy);
        for (int o = 0; o < out; o++) {
            double acc = 0;
            for (int i = 0; i < m; i++) {
                acc += dyv.get((long) i * lddy + o);
            }
            dbv.add(o, (float) acc);
        }
    }
}
