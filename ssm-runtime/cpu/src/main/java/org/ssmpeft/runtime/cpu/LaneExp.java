package org.ssmpeft.runtime.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * e^x in float32, in vector lanes and as a scalar twin that gives the same bits, built only from IEEE operations
 * (multiply, add, fused multiply-add, min/max, integer shifts), so its result never depends on how the JIT compiled
 * the caller. (The Vector API's own {@code EXP} does: interpreted it is {@code (float) Math.exp}, compiled an
 * intrinsic that differs from it in the last bit for about 1% of the scan's inputs, so the same call gave other bits
 * before and after warm-up.)
 * <pre>
 *   k = round(x·log2 e)                           (x + 1.5·2^23) − 1.5·2^23, ties to even
 *   r = x − k·ln 2                                 in two fused steps (Cody–Waite: ln 2 = hi + lo), |r| ≤ ln 2 / 2
 *   e^r = 1 + r + r²·P(r)                          P of degree 5, a minimax fit on [−ln 2 / 2, ln 2 / 2]
 *   e^x = e^r · 2^⌊k/2⌋ · 2^(k − ⌊k/2⌋)            two exact power-of-two factors, so subnormal results round once
 * </pre>
 * Within 2 ulp of e^x for x in [−103, 88] (LaneExpTest measures it); x is clamped to [−104, 89] first, so −∞ and
 * anything below −104 give 0, anything above 88.8 gives +∞; NaN gives NaN.
 */
final class LaneExp {

    private static final VectorSpecies<Float> LANES = FloatVector.SPECIES_PREFERRED;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // 355/512: k·LN2_HI is exact for |k| < 2^15
    private static final float LN2_LO = -2.12194440e-4f; // ln 2 − LN2_HI
    private static final float ROUND = 12582912f; // 1.5·2^23: adding and subtracting it rounds to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float LOW = -104f;
    private static final float HIGH = 89f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private LaneExp() {
    }

    /**
     * out[oOff + j·n + i] = e^(x[xOff + j·n + i]·s[sOff + j]) for j < rows, i < n (the scan's decays e^(Δ_c·A_c,i)
     * of a block of channels): per row, lanes of the machine's preferred vector, then the scalar twin for the tail.
     * It takes arrays, not vectors, and its species is a constant, so nothing depends on the JIT inlining it (a vector
     * passed through a call that is not inlined, or of a species the JIT cannot see, is boxed: 2-3x slower); and a
     * call covers many rows, so its constants are set up once for all of them.
     */
    static void exp(float[] x, int xOff, float[] s, int sOff, int rows, int n, float[] out, int oOff) {
        int bound = LANES.loopBound(n);
        for (int j = 0; j < rows; j++) {
            float scale = s[sOff + j];
            int xr = xOff + j * n;
            int or = oOff + j * n;
            int i = 0;
            for (; i < bound; i += LANES.length()) {
                FloatVector v = FloatVector.fromArray(LANES, x, xr + i).mul(scale);
                // clamped by compare and blend (NaN compares false and stays NaN): half the cost of max/min, whose
                // Java semantics (NaN, −0) take several instructions each
                FloatVector c = v.blend(LOW, v.lt(LOW)).blend(HIGH, v.compare(VectorOperators.GT, HIGH));
                FloatVector shifted = c.mul(LOG2E).add(ROUND); // k + 1.5·2^23: k in the low bits of its mantissa
                FloatVector negK = shifted.sub(ROUND).neg();
                FloatVector r = negK.fma(c.broadcast(LN2_HI), c);
                r = negK.fma(c.broadcast(LN2_LO), r);
                FloatVector p = r.fma(P0, P1); // r·P0 + P1
                p = p.fma(r, c.broadcast(P2));
                p = p.fma(r, c.broadcast(P3));
                p = p.fma(r, c.broadcast(P4));
                p = p.fma(r, c.broadcast(P5));
                FloatVector y = p.fma(r.mul(r), r).add(1f);
                IntVector k = shifted.reinterpretAsInts().sub(ROUND_BITS); // k itself, no conversion
                IntVector k1 = k.lanewise(VectorOperators.ASHR, 1);
                FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector s2 = k.sub(k1).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                y.mul(s1).mul(s2).intoArray(out, or + i);
            }
            for (; i < n; i++) {
                out[or + i] = exp(x[xr + i] * scale);
            }
        }
    }

    /** e^x, the same operations as a lane of the array form: the same bits. */
    static float exp(float x) {
        float c = x > HIGH ? HIGH : x < LOW ? LOW : x;
        float shifted = c * LOG2E + ROUND;
        float k = shifted - ROUND;
        float r = Math.fma(-k, LN2_HI, c);
        r = Math.fma(-k, LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        int ki = Float.floatToRawIntBits(shifted) - ROUND_BITS;
        int k1 = ki >> 1;
        int k2 = ki - k1;
        return y * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
    }
}
