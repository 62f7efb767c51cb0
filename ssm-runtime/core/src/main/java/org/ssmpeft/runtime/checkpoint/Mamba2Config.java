package org.ssmpeft.runtime.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.OptionalInt;
import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/**
 * A Mamba-2 (SSD) model configuration, read from a Hugging Face {@code config.json} ({@code Mamba2Config},
 * model_type "mamba2") or from an original state-spaces one ({@code ssm_cfg.layer = "Mamba2"}). Symbols: d
 * ({@code dModel}, hidden_size), D = H·P ({@code dInner}, expand·d), H heads ({@code heads}, num_heads), P
 * ({@code headDim}), G groups sharing B and C ({@code groups}, n_groups), N ({@code dState}, state_size), K
 * ({@code convKernel}), Q ({@code chunkSize}, the SSD chunk length; it changes rounding only, never the function).
 *
 * <p>in_proj emits [z (D), xBC (D + 2GN), dt (H)]; the conv runs over the D + 2GN channels of xBC; Δ = clamp(
 * softplus(dt + dt_bias), time_step_limit); the gated RMSNorm computes {@code w ⊙ g / sqrt(mean(g²) + eps)} with
 * {@code g = y ⊙ silu(z)} over groups of {@code normGroupSize} channels: transformers normalises over the whole D
 * (its {@code MambaRMSNormGated}), mamba_ssm's {@code RMSNormGated} over D / ngroups; the two agree for G = 1 (every
 * published state-spaces Mamba-2). A Hugging Face config gets D, a state-spaces one D / G, so each checkpoint runs as
 * the code that wrote it does.
 *
 * @param vocabSize         embedding rows (already padded)
 * @param dModel            residual-stream width d
 * @param dState            N
 * @param layers            number of blocks
 * @param layerNormEpsilon  eps of every RMSNorm (block norms, gated norm, norm_f)
 * @param padTokenId        pad token, if any
 * @param bosTokenId        beginning-of-sequence token, if any
 * @param eosTokenId        end-of-sequence token, if any
 * @param expand            D / d as configured
 * @param heads             H
 * @param headDim           P, H·P = D
 * @param groups            G, dividing H; heads h·G/H .. share group ⌊h·G/H⌋'s B and C
 * @param convKernel        K
 * @param chunkSize         Q, the SSD chunk length
 * @param useBias           in_proj and out_proj have biases
 * @param useConvBias       conv1d has a bias
 * @param residualInFp32    residual stream in float32 (always, here)
 * @param timeStepLimitMin  lower clamp of Δ (time_step_limit[0])
 * @param timeStepLimitMax  upper clamp of Δ (time_step_limit[1]; +∞ = none)
 * @param timeStepMin       dt_bias init only
 * @param timeStepMax       dt_bias init only
 * @param timeStepFloor     dt_bias init only
 * @param timeStepRank      written back as found; the mixer does not use it
 * @param normGroupSize     channels per gated-RMSNorm group (D for transformers, D / G for mamba_ssm)
 * @param initializerRange  init std (training from scratch only)
 * @param tieWordEmbeddings lm_head shares the embedding matrix
 */
public record Mamba2Config(int vocabSize, int dModel, int dState, int layers, double layerNormEpsilon,
                           OptionalInt padTokenId, OptionalInt bosTokenId, OptionalInt eosTokenId, int expand,
                           int heads, int headDim, int groups, int convKernel, int chunkSize, boolean useBias,
                           boolean useConvBias, boolean residualInFp32, double timeStepLimitMin,
                           double timeStepLimitMax, double timeStepMin, double timeStepMax, double timeStepFloor,
                           int timeStepRank, int normGroupSize, double initializerRange, boolean tieWordEmbeddings)
        implements LanguageModelConfig {

    private static final ObjectMapper JSON = ConfigFiles.json();

    public Mamba2Config {
        positive("vocab_size", vocabSize);
        positive("hidden_size", dModel);
        positive("state_size", dState);
        positive("num_hidden_layers", layers);
        positive("num_heads", heads);
        positive("head_dim", headDim);
        positive("n_groups", groups);
        positive("conv_kernel", convKernel);
        positive("chunk_size", chunkSize);
        positive("norm group size", normGroupSize);
        if (heads % groups != 0) {
            throw new IllegalArgumentException("mamba2 config: n_groups = " + groups + " must divide num_heads = "
                    + heads);
        }
        long d = (long) heads * headDim;
        if (d > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("mamba2 config: num_heads·head_dim = " + d + " is too large");
        }
        if (d % normGroupSize != 0) {
            throw new IllegalArgumentException("mamba2 config: the gated norm's group size " + normGroupSize
                    + " must divide d_inner = " + d);
        }
        if (!(layerNormEpsilon > 0) || Double.isInfinite(layerNormEpsilon)) {
            throw new IllegalArgumentException("mamba2 config: layer_norm_epsilon must be a positive finite number,"
                    + " found " + layerNormEpsilon);
        }
        if (!(timeStepLimitMin >= 0) || Double.isInfinite(timeStepLimitMin) || !(timeStepLimitMax > timeStepLimitMin)) {
            throw new IllegalArgumentException("mamba2 config: time_step_limit must be [min, max] with 0 <= min < max"
                    + " (max may be Infinity), found [" + timeStepLimitMin + ", " + timeStepLimitMax + "]");
        }
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("mamba2 config: " + key + " must be > 0, found " + v);
        }
    }

    /** D = H·P, the SSM channels. */
    public int dInner() {
        return heads * headDim;
    }

    /** Channels of the conv: x, B and C, D + 2GN. */
    public int convDim() {
        return dInner() + 2 * groups * dState;
    }

    /** Rows of in_proj: [z (D), xBC (D + 2GN), dt (H)]. */
    public int inProjWidth() {
        return dInner() + convDim() + heads;
    }

    /** Whether Δ is clamped at all (time_step_limit other than (0, ∞)). */
    public boolean clampsTimeStep() {
        return timeStepLimitMin > 0 || timeStepLimitMax != Double.POSITIVE_INFINITY;
    }

    /** A config with transformers' defaults for the rest (no linear biases, conv bias, no clamp, tied head). */
    public static Mamba2Config of(int vocabSize, int dModel, int dState, int layers, int headDim, int groups,
                                  int chunkSize) {
        int heads = 2 * dModel / headDim;
        return new Mamba2Config(vocabSize, dModel, dState, layers, 1e-5, OptionalInt.of(1), OptionalInt.of(0),
                OptionalInt.of(2), 2, heads, headDim, groups, 4, chunkSize, false, true, true, 0.0,
                Double.POSITIVE_INFINITY, 0.001, 0.1, 1e-4, MambaConfig.autoDtRank(dModel), heads * headDim, 0.1,
                true);
    }

    /**
     * How many floats the model's tensors hold (embedding, every layer, final norm, an untied head), saturating at
     * {@link Long#MAX_VALUE}: what a loader must be able to allocate. Per layer: norm d, in_proj (D + C + H)·d (+ its
     * bias), conv C·K (+ bias C), dt_bias, A_log and D (H each), the gated norm D, out_proj d·D (+ bias d).
     */
    public long parameterCount() {
        long dm = dModel;
        long di = (long) heads * headDim;
        long h = heads;
        try {
            long conv = Math.addExact(di, Math.multiplyExact(2L * groups, (long) dState));
            long width = Math.addExact(Math.addExact(di, conv), h);
            long embedding = Math.multiplyExact((long) vocabSize, dm);
            long perLayer = sum(dm, Math.multiplyExact(width, dm), useBias ? width : 0,
                    Math.multiplyExact(conv, (long) convKernel), useConvBias ? conv : 0, 3 * h, di,
                    Math.multiplyExact(dm, di), useBias ? dm : 0);
            return Math.addExact(Math.addExact(Math.multiplyExact(perLayer, (long) layers), embedding),
                    dm + (tieWordEmbeddings ? 0 : embedding));
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    private static long sum(long... terms) {
        long s = 0;
        for (long t : terms) {
            s = Math.addExact(s, t);
        }
        return s;
    }

    /** The dimensions PEFT methods size their parameters from. */
    public ModelShape toShape() {
        return new ModelShape(ModelFamily.MAMBA2, layers, dModel, dInner(), dState, 0, convKernel, heads, headDim,
                groups, vocabSize);
    }

    /**
     * Interprets a parsed config whose model_type is "mamba2" (Hugging Face keys) or whose {@code ssm_cfg.layer} is
     * "Mamba2" (state-spaces keys). {@code source} names it in messages.
     */
    public static Mamba2Config fromJson(JsonNode root, String source) throws CheckpointException {
        if (root == null || !root.isObject()) {
            throw new CheckpointException("config " + source + ": expected a JSON object, found "
                    + (root == null ? "nothing" : root.getNodeType()));
        }
        var k = new MambaConfig.Keys(root, source);
        try {
            return root.has("model_type") || root.has("hidden_size") ? fromHuggingFace(k) : fromStateSpaces(k);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("config " + source + ": " + e.getMessage(), e);
        }
    }

    // transformers Mamba2Config.__init__ (defaults mirror Codestral-7B, formats.md §2)
    private static Mamba2Config fromHuggingFace(MambaConfig.Keys k) throws CheckpointException {
        String modelType = k.string("model_type", "mamba2");
        if (!modelType.equals("mamba2")) {
            throw k.bad("model_type", "\"mamba2\"");
        }
        int dModel = k.positiveInt("hidden_size", 4096);
        int expand = k.positiveInt("expand", 2);
        int headDim = k.positiveInt("head_dim", 64);
        int heads = k.positiveInt("num_heads", 128);
        int dInner = k.product("expand", expand, "hidden_size", dModel);
        if ((long) heads * headDim != dInner) {
            throw new CheckpointException("config " + k.source + ": key 'num_heads' = " + heads + " times key"
                    + " 'head_dim' = " + headDim + " is " + (long) heads * headDim + ": expected expand·hidden_size = "
                    + dInner + " (transformers' Mamba2Mixer needs num_heads·head_dim = intermediate_size)");
        }
        if (!k.bool("rms_norm", true)) {
            throw k.bad("rms_norm", "true (Mamba-2 without the gated RMSNorm is not supported)");
        }
        int groups = k.positiveInt("n_groups", 8);
        if (heads % groups != 0) {
            throw k.bad("n_groups", "a divisor of num_heads = " + heads);
        }
        double[] limit = timeStepLimit(k, "time_step_limit");
        int vocab = k.positiveInt("vocab_size", 32768);
        double stepMin = k.positiveFinite("time_step_min", 0.001);
        // the same ranges as Mamba-1's keys (MambaConfig.Keys): eps, token ids inside the vocabulary, dt init
        return new Mamba2Config(
                vocab, dModel, k.positiveInt("state_size", 128),
                k.positiveInt("num_hidden_layers", 64), k.epsilon("layer_norm_epsilon", 1e-5),
                k.tokenId("pad_token_id", 1, vocab), k.tokenId("bos_token_id", 0, vocab),
                k.tokenId("eos_token_id", 2, vocab), expand,
                heads, headDim, groups, k.positiveInt("conv_kernel", 4), k.positiveInt("chunk_size", 256),
                k.bool("use_bias", false), k.bool("use_conv_bias", true), k.bool("residual_in_fp32", true),
                limit[0], limit[1], stepMin, k.atLeast("time_step_max", 0.1, "time_step_min", stepMin),
                k.nonNegativeFinite("time_step_floor", 1e-4), k.rankOrAuto("time_step_rank", dModel), dInner,
                k.nonNegativeFinite("initializer_range", 0.1), k.bool("tie_word_embeddings", false))
                .checkedActivation(k);
    }

    private Mamba2Config checkedActivation(MambaConfig.Keys k) throws CheckpointException {
        k.activation("hidden_act");
        return this;
    }

    // mamba_ssm MambaConfig (config_mamba.py) + Mamba2 mixer defaults (modules/mamba2.py); norm eps 1e-5
    private static Mamba2Config fromStateSpaces(MambaConfig.Keys k) throws CheckpointException {
        int dModel = k.positiveInt("d_model", 2560);
        int vocab = k.positiveInt("vocab_size", 50277);
        int padded = k.paddedVocab(vocab);
        k.requirePlainBlocks();
        JsonNode ssm = k.root.get("ssm_cfg");
        if (ssm == null || !ssm.isObject()) {
            throw k.bad("ssm_cfg", "an object with \"layer\": \"Mamba2\"");
        }
        var s = new MambaConfig.Keys(ssm, k.source, "ssm_cfg.");
        if (!s.string("layer", "Mamba1").equals("Mamba2")) {
            throw s.bad("layer", "\"Mamba2\"");
        }
        if (s.bool("D_has_hdim", false)) {
            throw s.bad("D_has_hdim", "false (a D per channel is not supported; D is one value per head)");
        }
        if (!s.bool("rmsnorm", true)) {
            throw s.bad("rmsnorm", "true (Mamba-2 without the gated RMSNorm is not supported)");
        }
        if (s.bool("norm_before_gate", false)) {
            throw s.bad("norm_before_gate", "false (the gate before the norm, as every published checkpoint)");
        }
        if (s.positiveOrZeroInt("d_ssm", 0) != 0) {
            throw s.bad("d_ssm", "absent (an SSM narrower than d_inner, with an MLP part, is not supported)");
        }
        int expand = s.positiveInt("expand", 2);
        int dInner = s.product("expand", expand, "d_model", dModel);
        int headDim = s.positiveInt("headdim", 64);
        if (dInner % headDim != 0) {
            throw s.bad("headdim", "a divisor of expand·d_model = " + dInner);
        }
        int heads = dInner / headDim;
        int groups = s.positiveInt("ngroups", 1);
        if (heads % groups != 0) {
            throw s.bad("ngroups", "a divisor of the head count " + heads);
        }
        double[] limit = timeStepLimit(s, "dt_limit");
        return new Mamba2Config(padded, dModel, s.positiveInt("d_state", 128), k.positiveInt("n_layer", 64),
                1e-5, OptionalInt.of(0), OptionalInt.of(0), OptionalInt.of(0), expand, heads, headDim, groups,
                s.positiveInt("d_conv", 4), s.positiveInt("chunk_size", 256), s.bool("bias", false),
                s.bool("conv_bias", true), k.bool("residual_in_fp32", true), limit[0], limit[1],
                s.number("dt_min", 0.001), s.number("dt_max", 0.1), s.number("dt_init_floor", 1e-4),
                MambaConfig.autoDtRank(dModel), dInner / groups, 0.1, k.bool("tie_embeddings", true));
    }

    // [min, max]; transformers 5 writes a non-finite float as {"__float__": "Infinity"}
    private static double[] timeStepLimit(MambaConfig.Keys k, String key) throws CheckpointException {
        JsonNode v = k.root.get(key);
        if (v == null) {
            return new double[] {0.0, Double.POSITIVE_INFINITY};
        }
        if (!v.isArray() || v.size() != 2) {
            throw k.bad(key, "[min, max] (max may be Infinity)");
        }
        double[] out = new double[2];
        for (int i = 0; i < 2; i++) {
            JsonNode e = v.get(i);
            if (e.isNumber()) {
                out[i] = e.doubleValue();
            } else if (e.isObject() && e.size() == 1 && e.has("__float__") && e.get("__float__").isTextual()) {
                String f = e.get("__float__").textValue();
                out[i] = switch (f) {
                    case "Infinity", "inf" -> Double.POSITIVE_INFINITY;
                    default -> throw k.bad(key, "[min, max] with max a number or {\"__float__\": \"Infinity\"}");
                };
            } else {
                throw k.bad(key, "[min, max] with numbers (max may be {\"__float__\": \"Infinity\"})");
            }
        }
        if (!(out[0] >= 0) || Double.isInfinite(out[0]) || !(out[1] > out[0])) {
            throw k.bad(key, "[min, max] with 0 <= min < max");
        }
        return out;
    }

    /** The Hugging Face {@code config.json} for this model, as transformers writes it (keys sorted). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("Mamba2ForCausalLM");
        MambaConfig.putToken(o, "bos_token_id", bosTokenId);
        o.put("chunk_size", chunkSize);
        o.put("conv_kernel", convKernel);
        o.put("dtype", "float32");
        MambaConfig.putToken(o, "eos_token_id", eosTokenId);
        o.put("expand", expand);
        o.put("head_dim", headDim);
        o.put("hidden_act", "silu");
        o.put("hidden_size", dModel);
        o.put("initializer_range", initializerRange);
        o.put("layer_norm_epsilon", layerNormEpsilon);
        o.put("model_type", "mamba2");
        o.put("n_groups", groups);
        o.put("num_heads", heads);
        o.put("num_hidden_layers", layers);
        MambaConfig.putToken(o, "pad_token_id", padTokenId);
        o.put("residual_in_fp32", residualInFp32);
        o.put("rms_norm", true);
        o.put("state_size", dState);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("time_step_floor", timeStepFloor);
        ArrayNode limit = o.putArray("time_step_limit").add(timeStepLimitMin);
        if (timeStepLimitMax == Double.POSITIVE_INFINITY) {
            limit.addObject().put("__float__", "Infinity");
        } else {
            limit.add(timeStepLimitMax);
        }
        o.put("time_step_max", timeStepMax);
        o.put("time_step_min", timeStepMin);
        o.put("time_step_rank", timeStepRank);
        o.put("use_bias", useBias);
        o.put("use_conv_bias", useConvBias);
        o.put("vocab_size", vocabSize);
        return o;
    }

    /** {@link #toJson()} as text. */
    public String toJsonString() {
        return MambaConfig.jsonText(toJson());
    }
}
