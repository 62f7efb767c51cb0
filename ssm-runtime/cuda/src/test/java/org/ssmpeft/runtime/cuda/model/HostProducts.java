package org.ssmpeft.runtime.cuda.model;

import org.ssmpeft.runtime.cuda.model.HostMemory.View;

/**
 * {@link org.ssmpeft.runtime.cuda.layers.DeviceLinear}'s contract in plain Java on {@link HostMemory} (double
 * accumulation), for running the model without a GPU.
 */
final class HostProducts implements ProductOps {

    private final HostMemory mem;

    HostProducts(HostMemory mem) {
        this.mem = mem;
    }

    @Override
    public void forward(long y, int ldy, long x, int ldx, long w, long b, int m, int in, int out) {
        View yv = mem.view(y);
        View xv = mem.view(x);
        View wv = mem.view(w);
        View bv = mem.viewOrNull(b);
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
        View yv = mem.view(y);
        View xv = mem.view(x);
        View wv = mem.view(w);
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
        View dxv = mem.view(dx);
        View dyv = mem.view(dy);
        View wv = mem.view(w);
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
        View dwv = mem.view(dw);
        View dyv = mem.view(dy);
        View xv = mem.view(x);
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
