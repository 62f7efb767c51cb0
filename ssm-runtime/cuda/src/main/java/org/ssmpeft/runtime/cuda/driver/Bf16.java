package org.ssmpeft.runtime.cuda.driver;

/** bfloat16: the top 16 bits of a float32, rounded to nearest even (NaN stays NaN). */
public final class Bf16 {

    private Bf16() {
    }

    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** {@code f} rounded to the nearest bfloat16, as a float. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}
