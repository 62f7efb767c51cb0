package org.ssmpeft.runtime.checkpoint;

import java.util.Optional;

/**
 * The parameters of one Mamba-2 block, float32, row-major. Symbols: d = d_model, D = d_inner = H·P, H heads, G
 * groups, N = d_state, K = conv_kernel, C = D + 2GN conv channels. Arrays are shared, not copied: read-only.
 *
 * @param norm        block RMSNorm weight: (d)
 * @param inProj      in_proj.weight: (D + C + H, d), rows [z (D) | x (D) | B (GN) | C (GN) | dt (H)]
 * @param inProjBias  in_proj.bias: (D + C + H), only when use_bias
 * @param convWeight  conv1d.weight: (C, K) (stored (C, 1, K)); index K-1 multiplies the current token
 * @param convBias    conv1d.bias: (C), only when use_conv_bias
 * @param dtBias      dt_bias: (H), added before the softplus
 * @param aLog        A_log: (H), A = -exp(A_log), one scalar per head
 * @param d           D (the skip): (H), one per head
 * @param gateNorm    mixer.norm.weight, the gated RMSNorm: (D)
 * @param outProj     out_proj.weight: (d, D)
 * @param outProjBias out_proj.bias: (d), only when use_bias
 */
public record Mamba2LayerWeights(float[] norm, float[] inProj, Optional<float[]> inProjBias, float[] convWeight,
                                 Optional<float[]> convBias, float[] dtBias, float[] aLog, float[] d,
                                 float[] gateNorm, float[] outProj, Optional<float[]> outProjBias) {

    /** Checks every array's length against the config; fails naming the parameter, expected and found length. */
    public Mamba2LayerWeights checked(Mamba2Config c) {
        int dm = c.dModel();
        int di = c.dInner();
        int h = c.heads();
        len("norm.weight", norm, dm);
        len("mixer.in_proj.weight", inProj, (long) c.inProjWidth() * dm);
        inProjBias.ifPresent(b -> len("mixer.in_proj.bias", b, c.inProjWidth()));
        len("mixer.conv1d.weight", convWeight, (long) c.convDim() * c.convKernel());
        convBias.ifPresent(b -> len("mixer.conv1d.bias", b, c.convDim()));
        len("mixer.dt_bias", dtBias, h);
        len("mixer.A_log", aLog, h);
        len("mixer.D", d, h);
        len("mixer.norm.weight", gateNorm, di);
        len("mixer.out_proj.weight", outProj, (long) dm * di);
        outProjBias.ifPresent(b -> len("mixer.out_proj.bias", b, dm));
        if (c.useBias() != inProjBias.isPresent() || c.useBias() != outProjBias.isPresent()) {
            throw new IllegalArgumentException("mamba2 layer weights: in_proj/out_proj biases present = "
                    + inProjBias.isPresent() + "/" + outProjBias.isPresent() + " but config use_bias = " + c.useBias());
        }
        if (c.useConvBias() != convBias.isPresent()) {
            throw new IllegalArgumentException("mamba2 layer weights: conv1d.bias present = " + convBias.isPresent()
                    + " but config use_conv_bias = " + c.useConvBias());
        }
        return this;
    }

    private static void len(String what, float[] a, long expected) {
        if (a.length != expected) {
            throw new IllegalArgumentException("mamba2 layer weights: " + what + " has " + a.length
                    + " elements, expected " + expected);
        }
    }
}
