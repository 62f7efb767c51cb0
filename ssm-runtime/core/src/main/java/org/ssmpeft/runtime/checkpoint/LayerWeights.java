package org.ssmpeft.runtime.checkpoint;

import java.util.Optional;

/**
 * The parameters of one Mamba-1 block, float32, row-major. Symbols: d = d_model, D = d_inner, N = d_state,
 * R = dt_rank, K = conv_kernel. Arrays are shared, not copied: treat them as read-only.
 *
 * @param norm        RMSNorm weight: (d)
 * @param inProj      in_proj.weight: (2D, d), rows 0..D-1 give x, rows D..2D-1 give the gate z
 * @param inProjBias  in_proj.bias: (2D), present only when use_bias
 * @param convWeight  conv1d.weight: (D, K) (stored as (D, 1, K)); index K-1 multiplies the current token
 * @param convBias    conv1d.bias: (D), present only when use_conv_bias
 * @param xProj       x_proj.weight: (R + 2N, D), rows: dt_low (R), B (N), C (N)
 * @param dtProj      dt_proj.weight: (D, R)
 * @param dtProjBias  dt_proj.bias: (D)
 * @param aLog        A_log: (D, N), A = -exp(A_log)
 * @param d           D (the skip): (D)
 * @param outProj     out_proj.weight: (d, D)
 * @param outProjBias out_proj.bias: (d), present only when use_bias
 */
public record LayerWeights(float[] norm, float[] inProj, Optional<float[]> inProjBias, float[] convWeight,
                           Optional<float[]> convBias, float[] xProj, float[] dtProj, float[] dtProjBias, float[] aLog,
                           float[] d, float[] outProj, Optional<float[]> outProjBias) {

    /** Checks every array's length against the config; fails naming the parameter, expected and found length. */
    public LayerWeights checked(MambaConfig c) {
        int dm = c.dModel();
        int di = c.dInner();
        int n = c.dState();
        int r = c.dtRank();
        len("norm", norm, dm);
        len("in_proj.weight", inProj, 2L * di * dm);
        inProjBias.ifPresent(b -> len("in_proj.bias", b, 2L * di));
        len("conv1d.weight", convWeight, (long) di * c.convKernel());
        convBias.ifPresent(b -> len("conv1d.bias", b, di));
        len("x_proj.weight", xProj, (long) (r + 2 * n) * di);
        len("dt_proj.weight", dtProj, (long) di * r);
        len("dt_proj.bias", dtProjBias, di);
        len("A_log", aLog, (long) di * n);
        len("D", d, di);
        len("out_proj.weight", outProj, (long) dm * di);
        outProjBias.ifPresent(b -> len("out_proj.bias", b, dm));
        if (c.useBias() != inProjBias.isPresent() || c.useBias() != outProjBias.isPresent()) {
            throw new IllegalArgumentException("layer weights: in_proj/out_proj biases present = "
                    + inProjBias.isPresent() + "/" + outProjBias.isPresent() + " but config use_bias = " + c.useBias());
        }
        if (c.useConvBias() != convBias.isPresent()) {
            throw new IllegalArgumentException("layer weights: conv1d.bias present = " + convBias.isPresent()
                    + " but config use_conv_bias = " + c.useConvBias());
        }
        return this;
    }

    private static void len(String what, float[] a, long expected) {
        if (a.length != expected) {
            throw new IllegalArgumentException("layer weights: " + what + " has " + a.length + " elements, expected "
                    + expected);
        }
    }
}
