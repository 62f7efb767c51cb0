package org.ssmpeft.runtime.cuda.scan;

/**
 * Device addresses (0 for "absent") and layouts of one selective scan's inputs, token-major as the model produces
 * them:
 * <pre>
 *   x, dt      (B, L, D)          u and Δ (after softplus); for a decoding step (B, D)
 *   negA       (D, N)             A = -exp(A_log), float32
 *   bc         (B, L, ldbc)       B_t at [bOffset, bOffset + N), C_t at [bOffset + N, bOffset + 2N) (x_proj's output)
 *   dSkip      (D)                D, float32, or 0
 *   z          (B, L, ldz)        the gate at zOffset (in_proj's output), or 0 for no gate
 *   hOffset    (D, N)             state offset h' (state-offset tuning (h)), float32, or 0
 *   yOffset    (D)                output offset y' (state-offset tuning (y)), float32, or 0
 *   ext        (B, L, ldExt)      the state extension's B'_t at [0, n'), C'_t at [n', 2n'), or 0 when n' = 0
 *   extNegA    (D, n')            the extension's A', float32
 * </pre>
 * x, dt, bc, z and ext hold the precision's element type (float32 or bfloat16). With {@code hookRows} every batch row
 * has hooks of its own (a mixed-adapter batch; the forward and the step only): hOffset (B, D, N), yOffset (B, D) and
 * extNegA (B, D, n'), row b's at b's place; a row without one holds zeros there, which gives the bits of no hook.
 */
public record ScanOperands(long x, long dt, long negA, long bc, int ldbc, int bOffset, long dSkip, long z, int ldz,
                           int zOffset, long hOffset, long yOffset, long ext, int ldExt, long extNegA,
                           boolean hookRows) {

    /** Hooks shared by every batch row. */
    public ScanOperands(long x, long dt, long negA, long bc, int ldbc, int bOffset, long dSkip, long z, int ldz,
                        int zOffset, long hOffset, long yOffset, long ext, int ldExt, long extNegA) {
        this(x, dt, negA, bc, ldbc, bOffset, dSkip, z, ldz, zOffset, hOffset, yOffset, ext, ldExt, extNegA, false);
    }

    /** The same scan without hooks: no offsets, no extension. */
    public static ScanOperands plain(long x, long dt, long negA, long bc, int ldbc, int bOffset, long dSkip, long z,
                                     int ldz, int zOffset) {
        return new ScanOperands(x, dt, negA, bc, ldbc, bOffset, dSkip, z, ldz, zOffset, 0, 0, 0, 0, 0);
    }
}
