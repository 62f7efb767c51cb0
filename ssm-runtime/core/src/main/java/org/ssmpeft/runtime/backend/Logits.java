package org.ssmpeft.runtime.backend;

import java.util.Arrays;

/**
 * Logits of a forward call, row-major (B, L, V), L = virtualTokens + the tokens given.
 *
 * @param values        (B, L, V)
 * @param virtualTokens leading positions of each row that belong to an acting prompt (0 without one)
 */
public record Logits(float[] values, int batch, int length, int vocab, int virtualTokens) {

    public Logits {
        if ((long) batch * length * vocab != values.length) {
            throw new IllegalArgumentException("logits: " + values.length + " values for (B, L, V) = (" + batch + ", "
                    + length + ", " + vocab + ")");
        }
    }

    /** The logits of every row's last position: (B, V). */
    public float[] last() {
        float[] out = new float[batch * vocab];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(values, (b * length + length - 1) * vocab, out, b * vocab, vocab);
        }
        return out;
    }

    /** The logits (V) of row {@code b} at position {@code t} (0-based, virtual tokens included), a copy. */
    public float[] at(int b, int t) {
        int o = (b * length + t) * vocab;
        return Arrays.copyOfRange(values, o, o + vocab);
    }
}
