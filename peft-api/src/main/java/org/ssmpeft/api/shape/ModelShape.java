package org.ssmpeft.api.shape;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The dimensions of an SSM language model, from which a PEFT method sizes its parameters.
 *
 * <p>Symbols as in the paper: {@code d_model} (hidden width), {@code D = d_inner = expand·d_model},
 * {@code N = d_state}, {@code R = dt_rank}, {@code K = conv kernel}. Mamba-2 adds {@code H} heads of width
 * {@code P = head_dim} ({@code H·P = D}) and {@code G} groups sharing B and C.
 *
 * <p>Family-specific fields that do not apply are 0: Mamba-1 has no heads, head_dim or groups; Mamba-2 has no
 * dt_rank (its in_proj emits one dt per head).
 *
 * @param family     Mamba-1 or Mamba-2
 * @param layers     number of blocks
 * @param dModel     residual-stream width
 * @param dInner     SSM channel count D
 * @param dState     state size N per channel
 * @param dtRank     rank R of the dt projection (Mamba-1), 0 for Mamba-2
 * @param convKernel depthwise causal conv width K
 * @param heads      H (Mamba-2), 0 for Mamba-1
 * @param headDim    P (Mamba-2), 0 for Mamba-1
 * @param groups     G (Mamba-2), 0 for Mamba-1
 * @param vocab      embedding rows (padded vocabulary)
 */
public record ModelShape(ModelFamily family, int layers, int dModel, int dInner, int dState, int dtRank,
                         int convKernel, int heads, int headDim, int groups, int vocab) {

    public ModelShape {
        if (family == null) {
            throw new IllegalArgumentException("model shape: family is required (mamba or mamba2)");
        }
        positive("layers", layers);
        positive("d_model", dModel);
        positive("d_inner", dInner);
        positive("d_state", dState);
        positive("conv_kernel", convKernel);
        positive("vocab", vocab);
        switch (family) {
            case MAMBA -> {
                positive("dt_rank", dtRank);
                if (heads != 0 || headDim != 0 || groups != 0) {
                    throw new IllegalArgumentException("model shape: a mamba (Mamba-1) shape has no heads, head_dim"
                            + " or groups; found heads=" + heads + ", head_dim=" + headDim + ", groups=" + groups);
                }
            }
            case MAMBA2 -> {
                positive("heads", heads);
                positive("head_dim", headDim);
                positive("groups", groups);
                if ((long) heads * headDim != dInner) {
                    throw new IllegalArgumentException("model shape: mamba2 needs heads·head_dim = d_inner; found "
                            + heads + "·" + headDim + " = " + (long) heads * headDim + " but d_inner = " + dInner);
                }
                if (heads % groups != 0) {
                    throw new IllegalArgumentException("model shape: mamba2 needs groups to divide heads; found heads="
                            + heads + ", groups=" + groups);
                }
            }
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("model shape: " + field + " must be > 0, found " + value);
        }
    }

    /** A Mamba-1 shape with the usual expand 2, dt_rank ceil(d_model/16), conv kernel 4. */
    public static ModelShape mamba(int layers, int dModel, int dState, int vocab) {
        return new ModelShape(ModelFamily.MAMBA, layers, dModel, 2 * dModel, dState, (dModel + 15) / 16, 4,
                0, 0, 0, vocab);
    }

    /** A Mamba-2 shape with expand 2, conv kernel 4 and heads = 2·d_model / headDim. */
    public static ModelShape mamba2(int layers, int dModel, int dState, int headDim, int groups, int vocab) {
        return new ModelShape(ModelFamily.MAMBA2, layers, dModel, 2 * dModel, dState, 0, 4,
                2 * dModel / headDim, headDim, groups, vocab);
    }

    private static final Map<String, ModelShape> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("mamba-tiny", new ModelShape(ModelFamily.MAMBA, 2, 64, 128, 16, 4, 4, 0, 0, 0, 256));
        PRESETS.put("mamba-130m", mamba(24, 768, 16, 50280));
        PRESETS.put("mamba-370m", mamba(48, 1024, 16, 50280));
        PRESETS.put("mamba-790m", mamba(48, 1536, 16, 50280));
        PRESETS.put("mamba-1.4b", mamba(48, 2048, 16, 50280));
        PRESETS.put("mamba-2.8b", mamba(64, 2560, 16, 50280));
        PRESETS.put("mamba2-tiny", mamba2(2, 64, 16, 16, 1, 256));
        PRESETS.put("mamba2-130m", mamba2(24, 768, 128, 64, 1, 50288));
        PRESETS.put("mamba2-1.3b", mamba2(48, 2048, 128, 64, 1, 50288));
    }

    /** The shapes of the published state-spaces checkpoints and of the test fixtures, by name. */
    public static Map<String, ModelShape> presets() {
        return Map.copyOf(PRESETS);
    }

    /** A preset by name ({@code mamba-130m}, {@code mamba2-130m}, {@code mamba-tiny}, ...). */
    public static Optional<ModelShape> preset(String name) {
        return Optional.ofNullable(PRESETS.get(name.toLowerCase(Locale.ROOT)));
    }

    /** A preset by name; fails listing the presets. */
    public static ModelShape requirePreset(String name) {
        return preset(name).orElseThrow(() -> new IllegalArgumentException("unknown shape '" + name + "'; presets: "
                + presetNames()));
    }

    public static String presetNames() {
        return String.join(", ", PRESETS.keySet());
    }

    /** The per-layer SSM state shape: (D, N) for Mamba-1, (H, P, N) for Mamba-2. Same element count D·N. */
    public int[] stateShape() {
        return family == ModelFamily.MAMBA ? new int[] {dInner, dState} : new int[] {heads, headDim, dState};
    }

    /** Elements of one layer's SSM state: D·N for both families. */
    public long stateSize() {
        return (long) dInner * dState;
    }

    /** Rows of in_proj: [x, z] = 2D for Mamba-1; [z, xBC, dt] = 2D + 2GN + H for Mamba-2. */
    public int inProjWidth() {
        return family == ModelFamily.MAMBA ? 2 * dInner : 2 * dInner + 2 * groups * dState + heads;
    }

    /**
     * Width of one token at the SSM input inside a layer: everything in_proj emits except the gate z
     * (Mamba-1: x, D wide; Mamba-2: xBC and dt, D + 2GN + H wide). Per-layer virtual tokens have this width.
     */
    public int mixerInputWidth() {
        return inProjWidth() - dInner;
    }

    /** Rows of x_proj (Mamba-1 only): dt_low (R), B (N), C (N). */
    public int xProjWidth() {
        requireFamily(ModelFamily.MAMBA, "x_proj");
        return dtRank + 2 * dState;
    }

    /** Channels of the depthwise conv: D for Mamba-1, D + 2GN for Mamba-2. */
    public int convChannels() {
        return family == ModelFamily.MAMBA ? dInner : dInner + 2 * groups * dState;
    }

    /**
     * Parameters of the base model as the published checkpoints have it: no linear biases, conv bias, tied
     * head counted once. Mamba-130M: 129,135,360.
     */
    public long baseParameterCount() {
        long perLayer;
        if (family == ModelFamily.MAMBA) {
            long d = dModel;
            long inner = dInner;
            perLayer = d                                   // norm
                    + inProjWidth() * d                    // in_proj
                    + inner * convKernel + inner           // conv1d weight and bias
                    + (long) xProjWidth() * inner          // x_proj
                    + inner * dtRank + inner               // dt_proj weight and bias
                    + inner * dState                       // A_log
                    + inner                                // D
                    + d * inner;                           // out_proj
        } else {
            long d = dModel;
            long conv = convChannels();
            perLayer = d                                   // norm
                    + inProjWidth() * d                    // in_proj
                    + conv * convKernel + conv             // conv1d weight and bias
                    + 3L * heads                           // dt_bias, A_log, D
                    + dInner                               // gated RMSNorm weight
                    + d * dInner;                          // out_proj
        }
        return layers * perLayer + (long) vocab * dModel + dModel;
    }

    public void requireFamily(ModelFamily expected, String what) {
        if (family != expected) {
            throw new IllegalArgumentException(what + " exists only in " + expected + " models; this shape is "
                    + family);
        }
    }

    /** One line for messages: {@code mamba(layers=24, d_model=768, d_inner=1536, d_state=16, ...)}. */
    public String describe() {
        var s = new StringBuilder(family.id()).append("(layers=").append(layers).append(", d_model=").append(dModel)
                .append(", d_inner=").append(dInner).append(", d_state=").append(dState);
        if (family == ModelFamily.MAMBA) {
            s.append(", dt_rank=").append(dtRank);
        } else {
            s.append(", heads=").append(heads).append(", head_dim=").append(headDim).append(", groups=").append(groups);
        }
        return s.append(", conv_kernel=").append(convKernel).append(", vocab=").append(vocab).append(')').toString();
    }
}
