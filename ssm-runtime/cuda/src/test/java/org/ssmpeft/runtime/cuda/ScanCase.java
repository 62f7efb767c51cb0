package org.ssmpeft.runtime.cuda;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.ssmpeft.runtime.cpu.CpuScanReference;
import org.ssmpeft.runtime.cuda.driver.Bf16;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.scan.ScanOperands;
import org.ssmpeft.runtime.cuda.scan.ScanShape;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels;
import org.ssmpeft.runtime.cuda.scan.SelectiveScanKernels.Precision;

/**
 * One random selective scan, run by the GPU kernels and by the cpu backend's scan on the same inputs, in the
 * layouts the model uses: x, dt, y (B, L, D); bc (B, L, R + 2N + 1) with B_t at R = 3 (the dt_low columns and a
 * padding column around it), or, for an {@code aligned} case, (B, L, 8 + 2N) with B_t at 8 (every pitch and offset a
 * multiple of 4, as Mamba-130M's x_proj output is: the forward's vector tile needs that, the other cases test the
 * scalar one); z (B, L, 2D) at D (in_proj's output); the extension's ext (B, L, 2n'). Each tensor's error is
 * ‖gpu − cpu‖ / ‖cpu‖. Output buffers are poisoned with NaN first; columns a kernel must not touch are checked to
 * still hold the poison. For bf16 the inputs are rounded to bf16 before the cpu sees them.
 */
final class ScanCase {

    static final int NAN = 0x7fc00000;
    /** B_t's column in bc: unaligned (the scalar tile) or aligned (the forward's vector tile where N, D allow). */
    static final int R_UNALIGNED = 3, R_ALIGNED = 8;

    record Hooks(boolean h0, boolean hOffset, boolean yOffset, boolean skip, int extStates) {
        static Hooks all(int ext) {
            return new Hooks(true, true, true, true, ext);
        }

        static Hooks none() {
            return new Hooks(false, false, false, true, 0);
        }
    }

    final ScanShape shape;
    final Hooks hooks;
    final Precision precision;
    final int b, l, d, n, ne, ldbc, ldz, ldext, R;
    final boolean aligned;
    final float[] x, dt, negA, bc, skip, z, h0, hOff, yOff, ext, extNegA, extH0, dy;

    ScanCase(int batch, int len, int channels, int states, Hooks hooks, Precision precision, long seed) {
        this(batch, len, channels, states, hooks, precision, seed, false);
    }

    ScanCase(int batch, int len, int channels, int states, Hooks hooks, Precision precision, long seed,
            boolean aligned) {
        this.aligned = aligned;
        this.R = aligned ? R_ALIGNED : R_UNALIGNED;
        this.shape = new ScanShape(batch, len, channels, states, hooks.extStates());
        this.hooks = hooks;
        this.precision = precision;
        this.b = batch;
        this.l = len;
        this.d = channels;
        this.n = states;
        this.ne = hooks.extStates();
        this.ldbc = aligned ? R + 2 * n : R + 2 * n + 1;
        this.ldz = 2 * d;
        this.ldext = 2 * ne;
        Random r = new Random(seed);
        int m = b * l;
        x = token(randn(r, m * d, 1f));
        dt = token(softplus(randn(r, m * d, 0.7f), -2.5f));
        negA = negExp(randn(r, d * n, 0.5f));
        bc = token(randn(r, m * ldbc, 1f));
        skip = hooks.skip() ? shift(randn(r, d, 0.1f), 1f) : new float[d];
        z = token(randn(r, m * ldz, 1f));
        h0 = hooks.h0() ? randn(r, b * d * n, 0.3f) : new float[b * d * n];
        hOff = hooks.hOffset() ? randn(r, d * n, 0.2f) : null;
        yOff = hooks.yOffset() ? randn(r, d, 0.2f) : null;
        ext = ne > 0 ? token(randn(r, m * ldext, 1f)) : null;
        extNegA = ne > 0 ? negExp(randn(r, d * ne, 0.5f)) : null;
        extH0 = ne > 0 && hooks.h0() ? randn(r, b * d * ne, 0.3f) : new float[b * d * Math.max(ne, 1)];
        dy = token(randn(r, m * d, 1f));
    }

    private float[] token(float[] v) {
        if (precision == Precision.BF16) {
            for (int i = 0; i < v.length; i++) {
                v[i] = Bf16.round(v[i]);
            }
        }
        return v;
    }

    private static float[] randn(Random r, int count, float scale) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) r.nextGaussian() * scale;
        }
        return v;
    }

    private static float[] softplus(float[] v, float shift) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.log1p(Math.exp(v[i] + shift));
        }
        return v;
    }

    private static float[] negExp(float[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) -Math.exp(v[i]);
        }
        return v;
    }

    private static float[] shift(float[] v, float s) {
        for (int i = 0; i < v.length; i++) {
            v[i] += s;
        }
        return v;
    }

    // ---- the cpu reference (the extension as a second scan with D = 0 and no offsets: the gate is linear in s)

    static final class Result {
        float[] y, state, extState, dx, ddt, dbc, dz, dext, dA, dExtA, dSkip, dhOff, dyOff, dh0, dExtH0;
    }

    Result cpu(boolean backward) {
        int chunk = 16;
        int chunks = (l + chunk - 1) / chunk;
        Result o = new Result();
        o.y = new float[b * l * d];
        o.state = h0.clone();
        float[] ck = backward ? new float[b * chunks * d * n] : null;
        CpuScanReference.forward(o.y, x, dt, negA, bc, ldbc, R, skip, z, ldz, d, o.state, hOff, yOff, ck, chunk, b, l,
                d, n);
        float[] ckExt = null;
        if (ne > 0) {
            float[] yExt = new float[b * l * d];
            o.extState = extH0.clone();
            ckExt = backward ? new float[b * chunks * d * ne] : null;
            CpuScanReference.forward(yExt, x, dt, extNegA, ext, ldext, 0, new float[d], z, ldz, d, o.extState, null,
                    null, ckExt, chunk, b, l, d, ne);
            for (int i = 0; i < yExt.length; i++) {
                o.y[i] += yExt[i];
            }
        }
        if (!backward) {
            return o;
        }
        o.dx = new float[b * l * d];
        o.ddt = new float[b * l * d];
        o.dbc = new float[b * l * ldbc];
        o.dz = new float[b * l * ldz];
        o.dA = new float[d * n];
        o.dSkip = new float[d];
        o.dhOff = hOff == null ? null : new float[d * n];
        o.dyOff = yOff == null ? null : new float[d];
        o.dh0 = new float[d * n];
        CpuScanReference.backward(o.dx, o.ddt, o.dbc, o.dz, o.dA, o.dSkip, o.dhOff, o.dyOff, o.dh0, dy, x, dt, negA,
                bc, ldbc, R, skip, z, ldz, d, ck, chunk, hOff, yOff, b, l, d, n);
        if (ne > 0) {
            float[] dx2 = new float[b * l * d];
            float[] ddt2 = new float[b * l * d];
            float[] dz2 = new float[b * l * ldz];
            o.dext = new float[b * l * ldext];
            o.dExtA = new float[d * ne];
            o.dExtH0 = new float[d * ne];
            CpuScanReference.backward(dx2, ddt2, o.dext, dz2, o.dExtA, null, null, null, o.dExtH0, dy, x, dt, extNegA,
                    ext, ldext, 0, new float[d], z, ldz, d, ckExt, chunk, null, null, b, l, d, ne);
            for (int i = 0; i < dx2.length; i++) {
                o.dx[i] += dx2[i];
                o.ddt[i] += ddt2[i];
            }
            for (int i = 0; i < dz2.length; i++) {
                o.dz[i] += dz2[i];
            }
        }
        return o;
    }

    // ---- the GPU

    private DeviceBuffer tokens(DeviceArena a, float[] v) {
        return v == null ? null : precision.upload(a, v);
    }

    private float[] read(DeviceBuffer buf, int count) {
        return precision.read(buf, count);
    }

    private static long addr(DeviceBuffer buf) {
        return buf == null ? 0 : buf.address();
    }

    /** The poison pattern as a token-typed fill (bf16 NaN twice per 32-bit word). */
    private int poison() {
        return precision == Precision.FLOAT32 ? NAN : 0x7fc07fc0;
    }

    private void poisonTokens(DeviceBuffer buf) {
        buf.fill32(poison());
    }

    Result gpu(SelectiveScanKernels k, DeviceArena a, boolean backward) {
        int m = b * l;
        DeviceBuffer gx = tokens(a, x), gdt = tokens(a, dt), gbc = tokens(a, bc), gz = tokens(a, z);
        DeviceBuffer gext = tokens(a, ext), gdy = tokens(a, dy);
        DeviceBuffer gA = a.upload(negA), gSkip = hooks.skip() ? a.upload(skip) : null;
        DeviceBuffer gHoff = hOff == null ? null : a.upload(hOff), gYoff = yOff == null ? null : a.upload(yOff);
        DeviceBuffer gExtA = extNegA == null ? null : a.upload(extNegA);
        DeviceBuffer gState = a.upload(h0.clone());
        DeviceBuffer gExtState = ne > 0 ? a.upload(extH0.clone()) : null;
        DeviceBuffer gy = a.allocate((long) m * d * precision.bytes());
        poisonTokens(gy);
        DeviceBuffer ck = backward ? a.allocateFloats(SelectiveScanKernels.checkpointFloats(shape)) : null;
        var ops = new ScanOperands(gx.address(), gdt.address(), gA.address(), gbc.address(), ldbc, R, addr(gSkip),
                gz.address(), ldz, d, addr(gHoff), addr(gYoff), addr(gext), ldext, addr(gExtA));
        k.forward(precision, shape, ops, gState.address(), addr(gExtState), addr(ck), gy.address());
        Result o = new Result();
        o.y = read(gy, m * d);
        o.state = gState.toFloats(b * d * n);
        o.extState = ne > 0 ? gExtState.toFloats(b * d * ne) : null;
        if (!backward) {
            return o;
        }
        DeviceBuffer gdx = a.allocate((long) m * d * precision.bytes());
        DeviceBuffer gddt = a.allocate((long) m * d * precision.bytes());
        DeviceBuffer gdz = a.allocate((long) m * ldz * precision.bytes());
        DeviceBuffer gdbc = a.allocate((long) m * ldbc * precision.bytes());
        DeviceBuffer gdext = ne > 0 ? a.allocate((long) m * ldext * precision.bytes()) : null;
        for (DeviceBuffer buf : new DeviceBuffer[] {gdx, gddt, gdz, gdbc, gdext}) {
            if (buf != null) {
                poisonTokens(buf);
            }
        }
        // parameter gradients accumulate: start them at 1 and subtract it afterwards
        DeviceBuffer gdA = a.upload(ones(d * n)), gdSkip = a.upload(ones(d));
        DeviceBuffer gdHoff = a.upload(ones(d * n)), gdYoff = a.upload(ones(d));
        DeviceBuffer gdExtA = ne > 0 ? a.upload(ones(d * ne)) : null;
        DeviceBuffer gdh0 = a.allocateFloats((long) b * d * n);
        gdh0.fill32(NAN);
        DeviceBuffer gdExtH0 = ne > 0 ? a.allocateFloats((long) b * d * ne) : null;
        if (gdExtH0 != null) {
            gdExtH0.fill32(NAN);
        }
        DeviceBuffer work = a.allocateFloats(k.workFloats(shape));
        work.fill32(NAN);
        var g = new SelectiveScanKernels.Gradients(gdx.address(), gddt.address(), gdz.address(), gdbc.address(),
                addr(gdext), gdA.address(), addr(gdExtA), hooks.skip() ? gdSkip.address() : 0,
                gHoff == null ? 0 : gdHoff.address(), gYoff == null ? 0 : gdYoff.address(), gdh0.address(),
                addr(gdExtH0));
        k.backward(precision, shape, ops, ck.address(), gdy.address(), g, work.address());
        o.dx = read(gdx, m * d);
        o.ddt = read(gddt, m * d);
        o.dz = read(gdz, m * ldz);
        o.dbc = read(gdbc, m * ldbc);
        o.dext = ne > 0 ? read(gdext, m * ldext) : null;
        o.dExtA = ne > 0 ? minusOne(gdExtA.toFloats(d * ne)) : null;
        o.dA = minusOne(gdA.toFloats(d * n));
        o.dSkip = minusOne(gdSkip.toFloats(d));
        o.dhOff = hOff == null ? null : minusOne(gdHoff.toFloats(d * n));
        o.dyOff = yOff == null ? null : minusOne(gdYoff.toFloats(d));
        o.dh0 = sumRows(gdh0.toFloats(b * d * n), b);
        o.dExtH0 = ne > 0 ? sumRows(gdExtH0.toFloats(b * d * ne), b) : null;
        return o;
    }

    private static float[] ones(int count) {
        float[] v = new float[count];
        java.util.Arrays.fill(v, 1f);
        return v;
    }

    private static float[] minusOne(float[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] -= 1f;
        }
        return v;
    }

    private static float[] sumRows(float[] v, int rows) {
        int size = v.length / rows;
        float[] out = new float[size];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < size; i++) {
                out[i] += v[r * size + i];
            }
        }
        return out;
    }

    // ---- comparison

    /** ‖a − b‖ / max(‖b‖, tiny); NaN anywhere gives NaN. */
    static double relError(float[] got, float[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double e = (double) got[i] - want[i];
            num += e * e;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    /** Only the columns [off, off + width) of each row of a (rows, ld) layout. */
    static float[] columns(float[] v, int ld, int off, int width) {
        int rows = v.length / ld;
        float[] out = new float[rows * width];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(v, r * ld + off, out, r * width, width);
        }
        return out;
    }

    /** Whether every column outside [off, off + width) of each row is still the poison (untouched). */
    static boolean untouchedOutside(float[] v, int ld, int off, int width) {
        for (int i = 0; i < v.length; i++) {
            int c = i % ld;
            if ((c < off || c >= off + width) && !Float.isNaN(v[i])) {
                return false;
            }
        }
        return true;
    }

    /** Each compared tensor's relative error, in a fixed order; forward only when {@code want.dx} is null. */
    Map<String, Double> errors(Result got, Result want) {
        Map<String, Double> e = new LinkedHashMap<>();
        e.put("y", relError(got.y, want.y));
        e.put("state", relError(got.state, want.state));
        if (ne > 0) {
            e.put("extState", relError(got.extState, want.extState));
        }
        if (want.dx == null) {
            return e;
        }
        e.put("dx", relError(got.dx, want.dx));
        e.put("ddt", relError(got.ddt, want.ddt));
        e.put("dz", relError(columns(got.dz, ldz, d, d), columns(want.dz, ldz, d, d)));
        e.put("dB", relError(columns(got.dbc, ldbc, R, n), columns(want.dbc, ldbc, R, n)));
        e.put("dC", relError(columns(got.dbc, ldbc, R + n, n), columns(want.dbc, ldbc, R + n, n)));
        e.put("dA", relError(got.dA, want.dA));
        if (hooks.skip()) {
            e.put("dD", relError(got.dSkip, want.dSkip));
        }
        if (hOff != null) {
            e.put("dh'", relError(got.dhOff, want.dhOff));
        }
        if (yOff != null) {
            e.put("dy'", relError(got.dyOff, want.dyOff));
        }
        e.put("dh0", relError(got.dh0, want.dh0));
        if (ne > 0) {
            e.put("dB'C'", relError(got.dext, want.dext));
            e.put("dA'", relError(got.dExtA, want.dExtA));
            e.put("dh0'", relError(got.dExtH0, want.dExtH0));
        }
        // writes outside their columns: the dt_low columns of dbc and the x half of dz must be untouched
        e.put("dbc outside B,C (0 = untouched)", untouchedOutside(got.dbc, ldbc, R, 2 * n) ? 0.0 : 1.0);
        e.put("dz outside z (0 = untouched)", untouchedOutside(got.dz, ldz, d, d) ? 0.0 : 1.0);
        return e;
    }

    @Override
    public String toString() {
        return precision + " B" + b + " L" + l + " D" + d + " N" + n + (ne > 0 ? "+" + ne : "")
                + (hooks.h0() ? " h0" : "") + (hooks.hOffset() ? " h'" : "") + (hooks.yOffset() ? " y'" : "")
                + (hooks.skip() ? "" : " noD") + (aligned ? " aligned" : "");
    }

    static CudaContext openOrSkip() {
        try {
            return CudaContext.open(0);
        } catch (org.ssmpeft.runtime.cuda.driver.CudaUnavailableException e) {
            org.junit.jupiter.api.Assumptions.assumeTrue(false, "no CUDA device answers: " + e.getMessage());
            throw new AssertionError(e);
        }
    }
}
