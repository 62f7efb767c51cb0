package org.ssmpeft.runtime.cuda.ssd;

/**
 * Device addresses (0 for "absent") and layouts of one SSD scan's inputs, token-major as Mamba-2's block produces
 * them (the conv output xBC = [x (D) | B (G·N) | C (G·N)]):
 * <pre>
 *   xbc        (B·L, ldx)     x_t[h, p] at column h·P + p, B_t of group g at bOffset + g·N, C_t at cOffset + g·N
 *   dt         (B·L, H)       Δ (after softplus and the clamp)
 *   a          (H)            A = −exp(A_log), float32
 *   dSkip      (H)            D, float32, or 0
 *   z          (B·L, ldz)     the gate at column zOffset + h·P + p (y·silu(z)), or 0 for none (Mamba-2's block
 *                             gates in its RMSNorm instead; mamba_ssm's chunk scan takes one)
 *   hOffset    (H, P, N)      state offset h' read out through C (state-offset tuning (h)), float32, or 0
 *   yOffset    (D)            output offset y' (state-offset tuning (y)), float32, or 0
 * </pre>
 * xbc, dt and z hold the precision's element type (float32 or bfloat16).
 */
public record SsdOperands(long xbc, int ldx, int bOffset, int cOffset, long dt, long a, long dSkip, long z, int ldz,
                          int zOffset, long hOffset, long yOffset) {

    /** The operands of a packed xBC row (B right after x, C after every group's B), no gate, no hooks. */
    public static SsdOperands packed(SsdShape s, long xbc, long dt, long a, long dSkip) {
        int d = s.dInner();
        return new SsdOperands(xbc, d + 2 * s.groups() * s.states(), d, d + s.groups() * s.states(), dt, a, dSkip,
                0, 0, 0, 0, 0);
    }

    public SsdOperands withGate(long z, int ldz, int zOffset) {
        return new SsdOperands(xbc, ldx, bOffset, cOffset, dt, a, dSkip, z, ldz, zOffset, hOffset, yOffset);
    }

    public SsdOperands withOffsets(long hOffset, long yOffset) {
        return new SsdOperands(xbc, ldx, bOffset, cOffset, dt, a, dSkip, z, ldz, zOffset, hOffset, yOffset);
    }
}
