package org.ssmpeft.runtime.cuda;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.ssmpeft.runtime.cpu.CpuSsdReference;
import org.ssmpeft.runtime.cuda.driver.Bf16;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;
import org.ssmpeft.runtime.cuda.ssd.SsdKernels;
import org.ssmpeft.runtime.cuda.ssd.SsdOperands;
import org.ssmpeft.runtime.cuda.ssd.SsdShape;

/**
 * One random Mamba-2 SSD scan, run by the GPU kernels ({@link SsdKernels}) and by the cpu backend's chunked scan on
 * the same inputs, with the z gate applied on top of the cpu result here:
 * <pre>
 *   y = y_ssd·silu(z)      dy_ssd = dy·silu(z)      dz = dy·y_ssd·σ(z)·(1 + z·(1 − σ(z)))      silu(z) = z·σ(z)
 * </pre>
 * Layouts: xbc (B·L, ldx) = [x (D) | pad | B (G·N) | pad | C (G·N) | pad] with the pads of a {@link Layout} (the
 * packed one has none: B at D, C at D + G·N); z (B·L, ldz) at zOffset; dxbc (B·L, lddx) with lddx ≥ ldx. Pad
 * columns hold large junk (a kernel that reads one into a sum is caught by the error). Inputs in the ranges a trained
 * Mamba-2 sees: Δ log-uniform in [0.001, 0.1] (dt_proj's init range, after softplus), A = −exp(U(−1, 1.5)), x, B, C,
 * z ~ N(0, 0.25), D ~ U(0.5, 1.5), h0, h', y' ~ N(0, 0.01), dy ~ N(0, 1). For bf16 the token inputs (xbc, dt, z,
 * dy) are rounded to bf16 before the cpu sees them. Outputs are poisoned with NaN first (y, checkpoints, dxbc, ddt,
 * dz, dh0 and both workspaces); the accumulated gradients (dA, dD, dh', dy') start at {@link #GRAD_START} on the
 * device and in the reference, so {@code +=} is checked. Each tensor's error is ‖gpu − cpu‖ / ‖cpu‖.
 */
final class SsdCase {

    /** The value every accumulated (+=) gradient starts from, on the device and in the reference. */
    static final float GRAD_START = 0.25f;
    /** Magnitude of the junk in pad columns. */
    private static final float JUNK = 64f;

    /** The names of the untouched-column checks in {@link #errors} (0: untouched, 1: written). */
    static final String UNTOUCHED_DXBC = "dxbc outside x,B,C (0 = untouched)";
    static final String UNTOUCHED_DZ = "dz outside z (0 = untouched)";

    /** The state hooks and options, each on or off: h0 (state in), h' (state offset), y' (output offset), D, z. */
    record Hooks(boolean h0, boolean hOffset, boolean yOffset, boolean skip, boolean gate) {
        static Hooks all() {
            return new Hooks(true, true, true, true, true);
        }

        static Hooks none() {
            return new Hooks(false, false, false, false, false);
        }

        /** What mamba_ssm's chunk scan gets from Mamba-2's block: D and the z gate. */
        static Hooks block() {
            return new Hooks(false, false, false, true, true);
        }

        @Override
        public String toString() {
            String s = (h0 ? " h0" : "") + (hOffset ? " h'" : "") + (yOffset ? " y'" : "") + (skip ? " D" : "")
                    + (gate ? " z" : "");
            return s.isEmpty() ? " no hooks" : s;
        }
    }

    /**
     * Extra columns around B and C in xbc (before B, before C, after C), around z (before, after) and after dxbc's
     * last (lddx − ldx).
     */
    record Layout(String name, int beforeB, int beforeC, int after, int beforeZ, int afterZ, int extraDx) {
        /** As Mamba-2's conv output: [x | B | C], z alone, dxbc like xbc. */
        static final Layout PACKED = new Layout("packed", 0, 0, 0, 0, 0, 0);
        /** Odd pads: offsets and pitches that are no multiple of 2 or 4 (scalar paths). */
        static final Layout ODD = new Layout("odd", 3, 1, 2, 3, 1, 1);
        /** Pads of 8: offsets and pitches aligned to 16 bytes at fp32, but not the packed ones. */
        static final Layout WIDE = new Layout("wide", 8, 8, 8, 8, 8, 8);

        boolean extraXbcColumns() {
            return beforeB + beforeC + after + extraDx > 0;
        }

        boolean extraZColumns() {
            return beforeZ + afterZ > 0;
        }
    }

    final SsdShape shape;
    final Hooks hooks;
    final Layout layout;
    final Precision precision;
    final int b, l, heads, p, g, n, q, d, gn, m, ldx, bOff, cOff, ldz, zOff, lddx;
    final float[] xbc, dt, negA, skip, z, h0, hOff, yOff, dy;

    SsdCase(SsdShape shape, Hooks hooks, Layout layout, Precision precision, long seed) {
        this.shape = shape;
        this.hooks = hooks;
        this.layout = layout;
        this.precision = precision;
        b = shape.batch();
        l = shape.len();
        heads = shape.heads();
        p = shape.headDim();
        g = shape.groups();
        n = shape.states();
        q = shape.chunk();
        d = shape.dInner();
        gn = g * n;
        m = b * l;
        bOff = d + layout.beforeB();
        cOff = bOff + gn + layout.beforeC();
        ldx = cOff + gn + layout.after();
        lddx = ldx + layout.extraDx();
        zOff = layout.beforeZ();
        ldz = zOff + d + layout.afterZ();
        Random r = new Random(seed);
        xbc = new float[m * ldx];
        for (int i = 0; i < xbc.length; i++) {
            xbc[i] = isXbcColumn(i % ldx) ? gauss(r, 0.5f) : junk(r);
        }
        token(xbc);
        dt = new float[m * heads];
        double lo = Math.log(0.001), hi = Math.log(0.1);
        for (int i = 0; i < dt.length; i++) {
            dt[i] = (float) Math.exp(lo + (hi - lo) * r.nextDouble());
        }
        token(dt);
        negA = new float[heads];
        for (int i = 0; i < heads; i++) {
            negA[i] = (float) -Math.exp(-1 + 2.5 * r.nextDouble());
        }
        skip = new float[heads];
        if (hooks.skip()) {
            for (int i = 0; i < heads; i++) {
                skip[i] = (float) (0.5 + r.nextDouble());
            }
        }
        if (hooks.gate()) {
            z = new float[m * ldz];
            for (int i = 0; i < z.length; i++) {
                int c = i % ldz;
                z[i] = c >= zOff && c < zOff + d ? gauss(r, 0.5f) : junk(r);
            }
            token(z);
        } else {
            z = null;
        }
        h0 = hooks.h0() ? randn(r, b * heads * p * n, 0.1f) : new float[b * heads * p * n];
        hOff = hooks.hOffset() ? randn(r, heads * p * n, 0.1f) : null;
        yOff = hooks.yOffset() ? randn(r, d, 0.1f) : null;
        dy = token(randn(r, m * d, 1f));
    }

    private boolean isXbcColumn(int c) {
        return c < d || (c >= bOff && c < bOff + gn) || (c >= cOff && c < cOff + gn);
    }

    private float[] token(float[] v) {
        if (precision == Precision.BF16) {
            for (int i = 0; i < v.length; i++) {
                v[i] = Bf16.round(v[i]);
            }
        }
        return v;
    }

    private static float gauss(Random r, float scale) {
        return (float) r.nextGaussian() * scale;
    }

    private static float junk(Random r) {
        return (r.nextBoolean() ? 1 : -1) * JUNK * (float) (1 + r.nextDouble());
    }

    private static float[] randn(Random r, int count, float scale) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = gauss(r, scale);
        }
        return v;
    }

    private static float[] filled(int count, float value) {
        float[] v = new float[count];
        Arrays.fill(v, value);
        return v;
    }

    static float sigmoid(float v) {
        return (float) (1 / (1 + Math.exp(-v)));
    }

    // ---- results

    /**
     * One run's outputs; the gradients of x, B, C and z compact ((B·L, D), (B·L, G·N) twice, (B·L, D)); the device's
     * raw dxbc and dz in their layouts (for the untouched-column checks). Null where not computed.
     */
    static final class Result {
        float[] y, state, checkpoints, dx, dB, dC, ddt, dz, dA, dSkip, dhOff, dyOff, dh0, rawDxbc, rawDz;
    }

    /** The cpu reference: forward, and the backward too when {@code backward}. */
    Result cpu(boolean backward) {
        int packedLd = d + 2 * gn;
        float[] packed = new float[m * packedLd];
        for (int r = 0; r < m; r++) {
            System.arraycopy(xbc, r * ldx, packed, r * packedLd, d);
            System.arraycopy(xbc, r * ldx + bOff, packed, r * packedLd + d, gn);
            System.arraycopy(xbc, r * ldx + cOff, packed, r * packedLd + d + gn, gn);
        }
        Result o = new Result();
        float[] ySsd = new float[m * d];
        o.state = h0.clone();
        o.checkpoints = new float[Math.toIntExact(shape.checkpointFloats())];
        CpuSsdReference.forward(ySsd, packed, packedLd, dt, negA, skip, o.state, hOff, yOff, o.checkpoints, b, l,
                heads, p, g, n, q);
        float[] silu = null, sig = null;
        if (hooks.gate()) {
            silu = new float[m * d];
            sig = new float[m * d];
            o.y = new float[m * d];
            for (int r = 0; r < m; r++) {
                for (int c = 0; c < d; c++) {
                    float zv = z[r * ldz + zOff + c];
                    int i = r * d + c;
                    sig[i] = sigmoid(zv);
                    silu[i] = zv * sig[i];
                    o.y[i] = ySsd[i] * silu[i];
                }
            }
        } else {
            o.y = ySsd;
        }
        if (!backward) {
            return o;
        }
        float[] dySsd = dy;
        if (hooks.gate()) {
            dySsd = new float[m * d];
            o.dz = new float[m * d];
            for (int r = 0; r < m; r++) {
                for (int c = 0; c < d; c++) {
                    int i = r * d + c;
                    float zv = z[r * ldz + zOff + c];
                    dySsd[i] = dy[i] * silu[i];
                    o.dz[i] = dy[i] * ySsd[i] * sig[i] * (1 + zv * (1 - sig[i]));
                }
            }
        }
        float[] dPacked = new float[m * packedLd];
        o.ddt = new float[m * heads];
        o.dA = filled(heads, GRAD_START);
        o.dSkip = hooks.skip() ? filled(heads, GRAD_START) : null;
        o.dhOff = hOff == null ? null : filled(heads * p * n, GRAD_START);
        o.dyOff = yOff == null ? null : filled(d, GRAD_START);
        o.dh0 = hooks.h0() ? new float[b * heads * p * n] : null;
        CpuSsdReference.backward(dPacked, packedLd, o.ddt, o.dA, o.dSkip, o.dhOff, o.dyOff, o.dh0, dySsd, packed,
                packedLd, dt, negA, skip, hOff, o.checkpoints, b, l, heads, p, g, n, q);
        o.dx = ScanCase.columns(dPacked, packedLd, 0, d);
        o.dB = ScanCase.columns(dPacked, packedLd, d, gn);
        o.dC = ScanCase.columns(dPacked, packedLd, d + gn, gn);
        return o;
    }

    // ---- the GPU

    /** Forward and backward on the device (see {@link OnDevice}). */
    Result gpu(SsdKernels k, DeviceArena a) {
        OnDevice dev = new OnDevice(a);
        Result o = dev.forward(k, true);
        dev.backward(k, o);
        return o;
    }

    /**
     * The case's inputs uploaded once, its outputs, gradients and workspaces allocated once; each call poisons its
     * outputs again, so a call can be repeated (the determinism checks).
     */
    final class OnDevice {
        final DeviceBuffer gxbc, gdt, gA, gSkip, gz, gHoff, gYoff, gdy, state, checkpoints, y, forwardWork;
        final DeviceBuffer backwardWork, dxbc, ddt, dz, dA, dSkip, dhOff, dyOff, dh0;
        final SsdOperands ops;

        OnDevice(DeviceArena a) {
            gxbc = precision.upload(a, xbc);
            gdt = precision.upload(a, dt);
            gA = a.upload(negA);
            gSkip = hooks.skip() ? a.upload(skip) : null;
            gz = z == null ? null : precision.upload(a, z);
            gHoff = hOff == null ? null : a.upload(hOff);
            gYoff = yOff == null ? null : a.upload(yOff);
            gdy = precision.upload(a, dy);
            state = a.allocateFloats(h0.length);
            checkpoints = a.allocateFloats(shape.checkpointFloats());
            y = tokens(a, (long) m * d);
            forwardWork = a.allocateFloats(SsdKernels.forwardWorkFloats(shape));
            backwardWork = a.allocateFloats(SsdKernels.backwardWorkFloats(shape));
            dxbc = tokens(a, (long) m * lddx);
            ddt = tokens(a, (long) m * heads);
            dz = z == null ? null : tokens(a, (long) m * ldz);
            dA = a.allocateFloats(heads);
            dSkip = hooks.skip() ? a.allocateFloats(heads) : null;
            dhOff = hOff == null ? null : a.allocateFloats((long) heads * p * n);
            dyOff = yOff == null ? null : a.allocateFloats(d);
            dh0 = hooks.h0() ? a.allocateFloats(h0.length) : null;
            ops = new SsdOperands(gxbc.address(), ldx, bOff, cOff, gdt.address(), gA.address(), addr(gSkip),
                    addr(gz), ldz, zOff, addr(gHoff), addr(gYoff));
        }

        /**
         * The training forward from h0 (withState) or the forward from zeros that keeps no state (state address 0);
         * y, the last state (withState) and the checkpoints.
         */
        Result forward(SsdKernels k, boolean withState) {
            state.copyFrom(h0);
            poison(y);
            checkpoints.fill32(Gpu.NAN32);
            forwardWork.fill32(Gpu.NAN32);
            k.forward(precision, shape, ops, withState ? state.address() : 0L, checkpoints.address(),
                    forwardWork.address(), y.address());
            Result o = new Result();
            o.y = precision.read(y, m * d);
            o.state = withState ? state.toFloats(h0.length) : null;
            o.checkpoints = checkpoints.toFloats(Math.toIntExact(shape.checkpointFloats()));
            return o;
        }

        /** The backward from the last forward's checkpoints, into {@code o}. */
        void backward(SsdKernels k, Result o) {
            for (DeviceBuffer buf : new DeviceBuffer[] {dxbc, ddt, dz}) {
                if (buf != null) {
                    poison(buf);
                }
            }
            if (dh0 != null) {
                dh0.fill32(Gpu.NAN32);
            }
            for (DeviceBuffer buf : new DeviceBuffer[] {dA, dSkip, dhOff, dyOff}) {
                if (buf != null) {
                    buf.copyFrom(filled((int) buf.floats(), GRAD_START));
                }
            }
            backwardWork.fill32(Gpu.NAN32);
            var grads = new SsdKernels.Gradients(dxbc.address(), lddx, ddt.address(), addr(dz), dA.address(),
                    addr(dSkip), addr(dhOff), addr(dyOff), addr(dh0));
            k.backward(precision, shape, ops, checkpoints.address(), gdy.address(), grads, backwardWork.address());
            o.rawDxbc = precision.read(dxbc, m * lddx);
            o.dx = ScanCase.columns(o.rawDxbc, lddx, 0, d);
            o.dB = ScanCase.columns(o.rawDxbc, lddx, bOff, gn);
            o.dC = ScanCase.columns(o.rawDxbc, lddx, cOff, gn);
            o.ddt = precision.read(ddt, m * heads);
            if (dz != null) {
                o.rawDz = precision.read(dz, m * ldz);
                o.dz = ScanCase.columns(o.rawDz, ldz, zOff, d);
            }
            o.dA = dA.toFloats(heads);
            o.dSkip = dSkip == null ? null : dSkip.toFloats(heads);
            o.dhOff = dhOff == null ? null : dhOff.toFloats(heads * p * n);
            o.dyOff = dyOff == null ? null : dyOff.toFloats(d);
            o.dh0 = dh0 == null ? null : dh0.toFloats(h0.length);
        }
    }

    /** A token-typed buffer of {@code count} elements, its bytes rounded up to whole 32-bit words for the poison. */
    private DeviceBuffer tokens(DeviceArena a, long count) {
        return a.allocate((count * precision.bytes() + 3) & ~3L);
    }

    private void poison(DeviceBuffer buf) {
        buf.fill32(precision == Precision.FLOAT32 ? Gpu.NAN32 : Gpu.NAN_BF16_PAIR);
    }

    private static long addr(DeviceBuffer buf) {
        return buf == null ? 0L : buf.address();
    }

    // ---- comparison

    /** Whether every column of dxbc outside x, B and C still holds the poison (untouched). */
    boolean dxbcUntouchedOutside(float[] raw) {
        for (int i = 0; i < raw.length; i++) {
            int c = i % lddx;
            if (!isXbcColumn(c) && !Float.isNaN(raw[i])) {
                return false;
            }
        }
        return true;
    }

    /** Each compared tensor's relative error, in a fixed order; the forward's alone when {@code want.dx} is null. */
    Map<String, Double> errors(Result got, Result want) {
        Map<String, Double> e = new LinkedHashMap<>();
        e.put("y", ScanCase.relError(got.y, want.y));
        if (got.state != null) {
            e.put("state", ScanCase.relError(got.state, want.state));
        }
        e.put("checkpoints", ScanCase.relError(got.checkpoints, want.checkpoints));
        if (want.dx == null) {
            return e;
        }
        e.put("dx", ScanCase.relError(got.dx, want.dx));
        e.put("dB", ScanCase.relError(got.dB, want.dB));
        e.put("dC", ScanCase.relError(got.dC, want.dC));
        e.put("ddt", ScanCase.relError(got.ddt, want.ddt));
        if (hooks.gate()) {
            e.put("dz", ScanCase.relError(got.dz, want.dz));
        }
        e.put("dA", ScanCase.relError(got.dA, want.dA));
        if (hooks.skip()) {
            e.put("dD", ScanCase.relError(got.dSkip, want.dSkip));
        }
        if (hOff != null) {
            e.put("dh'", ScanCase.relError(got.dhOff, want.dhOff));
        }
        if (yOff != null) {
            e.put("dy'", ScanCase.relError(got.dyOff, want.dyOff));
        }
        if (hooks.h0()) {
            e.put("dh0", ScanCase.relError(got.dh0, want.dh0));
        }
        if (layout.extraXbcColumns()) {
            e.put(UNTOUCHED_DXBC, dxbcUntouchedOutside(got.rawDxbc) ? 0.0 : 1.0);
        }
        if (hooks.gate() && layout.extraZColumns()) {
            e.put(UNTOUCHED_DZ, ScanCase.untouchedOutside(got.rawDz, ldz, zOff, d) ? 0.0 : 1.0);
        }
        return e;
    }

    /** Multiply-adds of the cpu reference, roughly (to keep the random cases' run time bounded). */
    static double referenceWork(SsdShape s) {
        double perToken = 3.0 * s.chunk() * (s.headDim() + s.states()) + 12.0 * s.headDim() * s.states();
        return (double) s.batch() * s.heads() * s.len() * perToken;
    }

    @Override
    public String toString() {
        return precision + " B" + b + " L" + l + " H" + heads + " P" + p + " G" + g + " N" + n + " Q" + q + hooks
                + " " + layout.name();
    }
}
