package org.ssmpeft.runtime.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

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

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // 355/512: k·LN2_HI is exact for |k| < 2^15
    private static final float LN2_LO = -2.12194440e-4f; // ln 2 − LN2_HI
    private static final float ROUND = 12582912f; // 1.5·2^23: adding and subtracting it rounds to an integer
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

    /** e^x per lane. */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(LOW).min(HIGH);
        FloatVector k = c.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector negK = k.neg();
        FloatVector r = negK.fma(x.broadcast(LN2_HI), c);
        r = negK.fma(x.broadcast(LN2_LO), r);
        FloatVector p = r.fma(P0, P1); // r·P0 + P1
        p = p.fma(r, x.broadcast(P2));
        p = p.fma(r, x.broadcast(P3));
        p = p.fma(r, x.broadcast(P4));
        p = p.fma(r, x.broadcast(P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector ki = (IntVector) k.convert(VectorOperators.F2I, 0);
        IntVector k1 = ki.lanewise(VectorOperators.ASHR, 1);
        IntVector k2 = ki.sub(k1);
        FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** e^x, the same operations as a lane of {@link #exp(FloatVector)}: the same bits. */
    static float exp(float x) {
        float c = Math.min(Math.max(x, LOW), HIGH);
        float k = c * LOG2E + ROUND - ROUND;
        float r = Math.fma(-k, LN2_HI, c);
        r = Math.fma(-k, LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        int ki = (int) k;
        int k1 = ki >> 1;
        int k2 = ki - k1;
        return y * Float.intBitsToFloat((k1 + 127) << 23) * Float.intBitsToFloat((k2 + 127) << 23);
    }
}
