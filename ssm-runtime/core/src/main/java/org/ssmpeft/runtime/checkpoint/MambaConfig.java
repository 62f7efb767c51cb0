package org.ssmpeft.runtime.checkpoint;

import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.Set;
import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.config.ConfigFormat;

/**
 * A Mamba-1 model configuration, read from a Hugging Face {@code config.json} ({@code MambaConfig}, model_type
 * "mamba") or from an original state-spaces ({@code mamba_ssm}) one. Symbols as in the paper: {@code dModel}
 * (hidden_size / d_model), {@code dInner = D} (intermediate_size = expand·d_model), {@code dState = N} (state_size),
 * {@code dtRank = R} (time_step_rank; "auto" = ceil(d_model / 16)), {@code convKernel = K}.
 *
 * <p>Defaults are transformers' when a key is absent (note {@code use_bias} defaults to true there, though every
 * published checkpoint sets it false). State-spaces configs ({@code d_model}, {@code n_layer}, {@code ssm_cfg},
 * {@code tie_embeddings}) get mamba_ssm's defaults and their vocabulary padded up to {@code pad_vocab_size_multiple}.
 *
 * @param vocabSize              embedding rows (already padded)
 * @param dModel                 residual-stream width (hidden_size)
 * @param dState                 N, state size per channel (state_size)
 * @param layers                 number of Mamba blocks (num_hidden_layers)
 * @param layerNormEpsilon       eps of every RMSNorm
 * @param padTokenId             pad token, if any
 * @param bosTokenId             beginning-of-sequence token, if any
 * @param eosTokenId             end-of-sequence token, if any
 * @param expand                 dInner / dModel as configured
 * @param dInner                 D, SSM channels (intermediate_size)
 * @param convKernel             K, width of the causal depthwise conv (conv_kernel)
 * @param useBias                in_proj and out_proj have biases
 * @param useConvBias            conv1d has a bias
 * @param hiddenAct              activation of conv output and gate; only "silu" is supported
 * @param initializerRange       init std (training from scratch only)
 * @param residualInFp32         residual stream kept in float32 (always true here: everything is float32)
 * @param dtRank                 R, rank of the dt projection (time_step_rank)
 * @param timeStepScale          dt_proj init
 * @param timeStepMin            dt_proj init
 * @param timeStepMax            dt_proj init
 * @param timeStepInitScheme     dt_proj init ("random" or "constant")
 * @param timeStepFloor          dt_proj init
 * @param rescalePrenormResidual out_proj init scaling
 * @param useCache               return a cache from the forward
 * @param tieWordEmbeddings      lm_head shares the embedding matrix
 */
public record MambaConfig(int vocabSize, int dModel, int dState, int layers, double layerNormEpsilon,
                          OptionalInt padTokenId, OptionalInt bosTokenId, OptionalInt eosTokenId, int expand,
                          int dInner, int convKernel, boolean useBias, boolean useConvBias, String hiddenAct,
                          double initializerRange, boolean residualInFp32, int dtRank, double timeStepScale,
                          double timeStepMin, double timeStepMax, String timeStepInitScheme, double timeStepFloor,
                          boolean rescalePrenormResidual, boolean useCache, boolean tieWordEmbeddings)
        implements LanguageModelConfig {

    private static final ObjectMapper JSON = ConfigFiles.json();

    private static final Set<String> ACTIVATIONS = Set.of("silu", "swish");

    /** How transformers and mamba_ssm initialise dt_proj's weight. */
    private static final List<String> INIT_SCHEMES = List.of("random", "constant");

    /**
     * RMSNorm divides by sqrt(mean(x²) + eps): published models use 1e-5 or 1e-6; an eps near 1 or above swamps
     * the activations, so a larger one is a wrong file, not a choice.
     */
    static final double MAX_EPSILON = 1.0;

    /** A config.json is a few KiB; the bound keeps a wrong path (a weights file, say) from filling the heap. */
    static final long MAX_CONFIG_BYTES = 16L << 20;

    public MambaConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", dModel);
        positive("state_size", dState);
        positive("num_hidden_layers", layers);
        positive("expand", expand);
        positive("intermediate_size", dInner);
        positive("conv_kernel", convKernel);
        positive("time_step_rank", dtRank);
        if (!(layerNormEpsilon > 0 && layerNormEpsilon < MAX_EPSILON)) {
            throw new IllegalArgumentException("mamba config: layer_norm_epsilon must be a positive number below "
                    + MAX_EPSILON + ", found " + layerNormEpsilon);
        }
        tokenBelowVocab("pad_token_id", padTokenId, vocabSize);
        tokenBelowVocab("bos_token_id", bosTokenId, vocabSize);
        tokenBelowVocab("eos_token_id", eosTokenId, vocabSize);
        if (!INIT_SCHEMES.contains(timeStepInitScheme)) {
            throw new IllegalArgumentException("mamba config: time_step_init_scheme '" + timeStepInitScheme
                    + "' is not known; expected one of " + INIT_SCHEMES);
        }
        if (!(timeStepMin > 0 && timeStepMin <= timeStepMax && Double.isFinite(timeStepMax))) {
            throw new IllegalArgumentException("mamba config: time_step_min and time_step_max must satisfy"
                    + " 0 < time_step_min <= time_step_max < infinity, found " + timeStepMin + " and " + timeStepMax);
        }
        if (!(timeStepFloor >= 0 && Double.isFinite(timeStepFloor)) || !(timeStepScale > 0
                && Double.isFinite(timeStepScale)) || !(initializerRange >= 0 && Double.isFinite(initializerRange))) {
            throw new IllegalArgumentException("mamba config: expected time_step_floor >= 0, time_step_scale > 0 and"
                    + " initializer_range >= 0, all finite; found " + timeStepFloor + ", " + timeStepScale + " and "
                    + initializerRange);
        }
        if (!ACTIVATIONS.contains(hiddenAct)) {
            throw new IllegalArgumentException("mamba config: hidden_act '" + hiddenAct + "' is not supported;"
                    + " expected silu");
        }
    }

    private static void tokenBelowVocab(String key, OptionalInt id, int vocabSize) {
        if (id.isPresent() && (id.getAsInt() < 0 || id.getAsInt() >= vocabSize)) {
            throw new IllegalArgumentException("mamba config: " + key + " " + id.getAsInt() + " is outside the"
                    + " vocabulary: expected a token id in [0, " + vocabSize + ") (vocab_size " + vocabSize
                    + ") or null");
        }
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("mamba config: " + key + " must be > 0, found " + v);
        }
    }

    /** A config with transformers' defaults for everything but the given dimensions (no linear biases). */
    public static MambaConfig of(int vocabSize, int dModel, int dState, int layers) {
        return new MambaConfig(vocabSize, dModel, dState, layers, 1e-5, OptionalInt.of(0), OptionalInt.of(0),
                OptionalInt.of(0), 2, 2 * dModel, 4, false, true, "silu", 0.1, true, autoDtRank(dModel), 1.0, 0.001,
                0.1, "random", 1e-4, false, true, true);
    }

    /** ceil(d_model / 16), what "auto" means for time_step_rank / dt_rank. */
    public static int autoDtRank(int dModel) {
        return (dModel + 15) / 16;
    }

    /**
     * How many floats the model's tensors hold (embedding, every layer, final norm, an untied head), saturating at
     * {@link Long#MAX_VALUE}: what a loader or an initialiser must be able to allocate.
     */
    public long parameterCount() {
        long dm = dModel;
        long di = dInner;
        long perLayer = dm + 2 * di * dm + (useBias ? 2 * di + dm : 0) + di * convKernel + (useConvBias ? di : 0)
                + (dtRank + 2L * dState) * di + di * dtRank + di + di * dState + di + dm * di;
        long embedding = vocabSize * dm;
        try {
            return Math.addExact(Math.addExact(Math.multiplyExact(perLayer, (long) layers), embedding),
                    dm + (tieWordEmbeddings ? 0 : embedding));
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The dimensions PEFT methods size their parameters from. */
    public ModelShape toShape() {
        return new ModelShape(ModelFamily.MAMBA, layers, dModel, dInner, dState, dtRank, convKernel, 0, 0, 0,
                vocabSize);
    }

    /** Reads {@code config.json} (or any file of that form). */
    public static MambaConfig read(Path configJson) throws CheckpointException {
        return fromJson(readJson(configJson), configJson.toString());
    }

    /** Parses a config file (bounded in size, strict JSON); every failure names the file. */
    static JsonNode readJson(Path configJson) throws CheckpointException {
        String text;
        try {
            long size = Files.size(configJson);
            if (size > MAX_CONFIG_BYTES) {
                throw new CheckpointException("config " + configJson + ": file is " + size + " bytes; a config.json"
                        + " is at most " + MAX_CONFIG_BYTES + " bytes (is this the weights file?)");
            }
            text = ConfigFiles.readText(configJson);
        } catch (ConfigFiles.SyntaxException e) {
            throw new CheckpointException("config " + configJson + ": " + e.getMessage(), e);
        } catch (NoSuchFileException e) {
            throw new CheckpointException("config " + configJson + ": no such file");
        } catch (IOException e) {
            throw new CheckpointException("config " + configJson + ": cannot be read: " + e, e);
        }
        try {
            return ConfigFiles.parse(text, ConfigFormat.JSON);
        } catch (ConfigFiles.SyntaxException e) {
            throw new CheckpointException("config " + configJson + ": " + e.getMessage(), e);
        }
    }

    /**
     * Interprets a parsed config. {@code source} names it in error messages. A config with {@code hidden_size} (or
     * model_type "mamba") is read with Hugging Face keys; one with only {@code d_model} with state-spaces keys.
     */
    public static MambaConfig fromJson(JsonNode root, String source) throws CheckpointException {
        if (root == null || !root.isObject()) {
            throw new CheckpointException("config " + source + ": expected a JSON object, found "
                    + (root == null ? "nothing" : root.getNodeType()));
        }
        var keys = new Keys(root, source);
        String modelType = keys.string("model_type", "mamba");
        if (!modelType.equals("mamba")) {
            throw new CheckpointException("config " + source + ": key 'model_type' = \"" + modelType
                    + "\": expected \"mamba\" (Mamba-1; Mamba-2 folders are read by Mamba2Checkpoint, and"
                    + " Checkpoints.load reads either)");
        }
        boolean huggingFace = root.has("hidden_size") || root.has("model_type") || !root.has("d_model");
        try {
            return huggingFace ? fromHuggingFace(keys) : fromStateSpaces(keys);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("config " + source + ": " + e.getMessage(), e);
        } catch (ArithmeticException e) {
            // a safety net: the products of dimensions are checked by Keys.product with the keys named
            throw new CheckpointException("config " + source + ": a dimension overflows an int: " + e.getMessage(), e);
        }
    }

    // transformers MambaConfig.__init__; keys set by PreTrainedConfig from **kwargs (intermediate_size) win over
    // the derived value, exactly as in Python.
    private static MambaConfig fromHuggingFace(Keys k) throws CheckpointException {
        int dModel = k.positiveInt("hidden_size", 768);
        int expand = k.positiveInt("expand", 2);
        int dInner = k.root.has("intermediate_size") ? k.positiveInt("intermediate_size", 0)
                : k.product("expand", expand, "hidden_size", dModel);
        int vocab = k.positiveInt("vocab_size", 50280);
        double stepMin = k.positiveFinite("time_step_min", 0.001);
        return new MambaConfig(
                vocab,
                dModel,
                k.positiveInt("state_size", 16),
                k.positiveInt("num_hidden_layers", 32),
                k.epsilon("layer_norm_epsilon", 1e-5),
                k.tokenId("pad_token_id", 0, vocab),
                k.tokenId("bos_token_id", 0, vocab),
                k.tokenId("eos_token_id", 0, vocab),
                expand,
                dInner,
                k.positiveInt("conv_kernel", 4),
                k.bool("use_bias", true),
                k.bool("use_conv_bias", true),
                k.activation("hidden_act"),
                k.nonNegativeFinite("initializer_range", 0.1),
                k.bool("residual_in_fp32", true),
                k.rankOrAuto("time_step_rank", dModel),
                k.positiveFinite("time_step_scale", 1.0),
                stepMin,
                k.atLeast("time_step_max", 0.1, "time_step_min", stepMin),
                k.oneOf("time_step_init_scheme", "random", INIT_SCHEMES),
                k.nonNegativeFinite("time_step_floor", 1e-4),
                k.bool("rescale_prenorm_residual", false),
                k.bool("use_cache", true),
                k.bool("tie_word_embeddings", true));
    }

    // mamba_ssm MambaConfig (config_mamba.py) + Mamba mixer defaults (mamba_simple.py); norm eps is fixed at 1e-5.
    private static MambaConfig fromStateSpaces(Keys k) throws CheckpointException {
        int dModel = k.positiveInt("d_model", 2560);
        int layers = k.positiveInt("n_layer", 64);
        int vocab = k.positiveInt("vocab_size", 50277);
        int paddedVocab = k.paddedVocab(vocab);
        k.requirePlainBlocks();
        JsonNode ssm = k.root.get("ssm_cfg");
        if (ssm != null && !ssm.isObject()) {
            throw k.bad("ssm_cfg", "an object");
        }
        var s = new Keys(ssm == null ? JSON.createObjectNode() : (ObjectNode) ssm, k.source, "ssm_cfg.");
        String layer = s.string("layer", "Mamba1");
        if (!layer.equals("Mamba1")) {
            throw s.bad("layer", "\"Mamba1\" (this loader reads Mamba-1 only)");
        }
        int expand = s.positiveInt("expand", 2);
        double dtMin = s.positiveFinite("dt_min", 0.001);
        return new MambaConfig(
                paddedVocab,
                dModel,
                s.positiveInt("d_state", 16),
                layers,
                1e-5,
                OptionalInt.of(0), OptionalInt.of(0), OptionalInt.of(0),
                expand,
                s.product("expand", expand, "d_model", dModel),
                s.positiveInt("d_conv", 4),
                s.bool("bias", false),
                s.bool("conv_bias", true),
                "silu",
                0.1,
                k.bool("residual_in_fp32", true),
                s.rankOrAuto("dt_rank", dModel),
                s.positiveFinite("dt_scale", 1.0),
                dtMin,
                s.atLeast("dt_max", 0.1, "dt_min", dtMin),
                s.oneOf("dt_init", "random", INIT_SCHEMES),
                s.nonNegativeFinite("dt_init_floor", 1e-4),
                false,
                true,
                k.bool("tie_embeddings", true));
    }

    /** The Hugging Face {@code config.json} for this model, as transformers writes it (keys sorted). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("MambaForCausalLM");
        putToken(o, "bos_token_id", bosTokenId);
        o.put("conv_kernel", convKernel);
        o.put("dtype", "float32");
        putToken(o, "eos_token_id", eosTokenId);
        o.put("expand", expand);
        o.put("hidden_act", hiddenAct);
        o.put("hidden_size", dModel);
        o.put("initializer_range", initializerRange);
        o.put("intermediate_size", dInner);
        o.put("layer_norm_epsilon", layerNormEpsilon);
        o.put("model_type", "mamba");
        o.put("num_hidden_layers", layers);
        putToken(o, "pad_token_id", padTokenId);
        o.put("rescale_prenorm_residual", rescalePrenormResidual);
        o.put("residual_in_fp32", residualInFp32);
        o.put("state_size", dState);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("time_step_floor", timeStepFloor);
        o.put("time_step_init_scheme", timeStepInitScheme);
        o.put("time_step_max", timeStepMax);
        o.put("time_step_min", timeStepMin);
        o.put("time_step_rank", dtRank);
        o.put("time_step_scale", timeStepScale);
        o.put("use_bias", useBias);
        o.put("use_cache", useCache);
        o.put("use_conv_bias", useConvBias);
        o.put("vocab_size", vocabSize);
        return o;
    }

    /** {@link #toJson()} as text. */
    public String toJsonString() {
        return jsonText(toJson());
    }

    /** A config's JSON as text, one line and a newline, as both families write it. */
    static String jsonText(ObjectNode o) {
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode a config", e);
        }
    }

    /** A token id, or null when the config has none (transformers writes null). */
    static void putToken(ObjectNode o, String key, OptionalInt id) {
        if (id.isPresent()) {
            o.put(key, id.getAsInt());
        } else {
            o.putNull(key);
        }
    }

    /**
     * Typed access to config keys with defaults; every failure names the key, the value and the expectation. Shared
     * by the Mamba-2 reader ({@link Mamba2Config}).
     */
    static final class Keys {
        final JsonNode root;
        final String source;
        final String prefix;

        Keys(JsonNode root, String source) {
            this(root, source, "");
        }

        Keys(JsonNode root, String source, String prefix) {
            this.root = root;
            this.source = source;
            this.prefix = prefix;
        }

        CheckpointException bad(String key, String expected) {
            JsonNode v = root.get(key);
            return new CheckpointException("config " + source + ": key '" + prefix + key + "' = "
                    + (v == null ? "(absent)" : v.toString()) + ": expected " + expected);
        }

        /** {@code a · b} for two dimensions read from keys; fails naming both when it does not fit in an int. */
        int product(String keyA, int a, String keyB, int b) throws CheckpointException {
            long p = (long) a * b;
            if (p > Integer.MAX_VALUE) {
                throw new CheckpointException("config " + source + ": key '" + prefix + keyA + "' = " + a
                        + " times key '" + keyB + "' = " + b + " is " + p + ": expected a product of at most "
                        + Integer.MAX_VALUE);
            }
            return (int) p;
        }

        /** The value of {@code key}, or null when absent (private to this reader). */
        private JsonNode value(String key) {
            return root.get(key);
        }

        int positiveInt(String key, int dflt) throws CheckpointException {
            int v = integer(key, dflt);
            if (v <= 0) {
                throw bad(key, "a positive integer");
            }
            return v;
        }

        int positiveOrZeroInt(String key, int dflt) throws CheckpointException {
            int v = integer(key, dflt);
            if (v < 0) {
                throw bad(key, "a non-negative integer");
            }
            return v;
        }

        private int integer(String key, int dflt) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw bad(key, "an integer");
            }
            return v.intValue();
        }

        OptionalInt tokenId(String key, int dflt, int vocab) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null) {
                return OptionalInt.of(dflt);
            }
            if (v.isNull()) {
                return OptionalInt.empty();
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() >= vocab) {
                throw bad(key, "a token id in [0, " + vocab + ") (below vocab_size) or null");
            }
            return OptionalInt.of(v.intValue());
        }

        double epsilon(String key, double dflt) throws CheckpointException {
            double v = number(key, dflt);
            if (!(v > 0 && v < MAX_EPSILON)) {
                throw bad(key, "a positive number below " + MAX_EPSILON + " (RMSNorm's eps; models use 1e-5)");
            }
            return v;
        }

        double positiveFinite(String key, double dflt) throws CheckpointException {
            double v = number(key, dflt);
            if (!(v > 0) || Double.isInfinite(v)) {
                throw bad(key, "a positive finite number");
            }
            return v;
        }

        double nonNegativeFinite(String key, double dflt) throws CheckpointException {
            double v = number(key, dflt);
            if (!(v >= 0) || Double.isInfinite(v)) {
                throw bad(key, "a non-negative finite number");
            }
            return v;
        }

        double atLeast(String key, double dflt, String lowerKey, double lower) throws CheckpointException {
            double v = number(key, dflt);
            if (!(v >= lower) || Double.isInfinite(v)) {
                throw bad(key, "a finite number >= " + prefix + lowerKey + " (" + lower + ")");
            }
            return v;
        }

        String oneOf(String key, String dflt, List<String> allowed) throws CheckpointException {
            String v = string(key, dflt);
            if (!allowed.contains(v)) {
                throw bad(key, "one of " + String.join(", ", allowed.stream().map(a -> "\"" + a + "\"").toList()));
            }
            return v;
        }

        double number(String key, double dflt) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isNumber()) {
                throw bad(key, "a number");
            }
            return v.doubleValue();
        }

        boolean bool(String key, boolean dflt) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw bad(key, "true or false");
            }
            return v.booleanValue();
        }

        String string(String key, String dflt) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null) {
                return dflt;
            }
            if (!v.isTextual()) {
                throw bad(key, "a string");
            }
            return v.textValue();
        }

        /** {@code vocab} padded up to a multiple of pad_vocab_size_multiple (state-spaces configs). */
        int paddedVocab(int vocab) throws CheckpointException {
            int multiple = positiveInt("pad_vocab_size_multiple", 8);
            long padded = ((long) vocab + multiple - 1) / multiple * multiple;
            if (padded > Integer.MAX_VALUE) {
                throw bad("vocab_size", "a vocabulary that, padded up to a multiple of pad_vocab_size_multiple ("
                        + multiple + "), is at most " + Integer.MAX_VALUE);
            }
            return (int) padded;
        }

        /** A state-spaces config's blocks must be RMSNorm + mixer only: no LayerNorm, no MLP, no attention. */
        void requirePlainBlocks() throws CheckpointException {
            if (!bool("rms_norm", true)) {
                throw bad("rms_norm", "true (LayerNorm blocks are not supported)");
            }
            if (positiveOrZeroInt("d_intermediate", 0) != 0) {
                throw bad("d_intermediate", "0 (blocks with an MLP are not supported)");
            }
            JsonNode attn = root.get("attn_layer_idx");
            if (attn != null && !(attn.isArray() && attn.isEmpty())) {
                throw bad("attn_layer_idx", "[] (hybrid attention layers are not supported)");
            }
        }

        String activation(String key) throws CheckpointException {
            String v = string(key, "silu").toLowerCase(Locale.ROOT);
            if (!ACTIVATIONS.contains(v)) {
                throw bad(key, "\"silu\" (the only activation Mamba uses)");
            }
            return "silu";
        }

        int rankOrAuto(String key, int dModel) throws CheckpointException {
            JsonNode v = value(key);
            if (v == null || (v.isTextual() && v.textValue().equals("auto"))) {
                return autoDtRank(dModel);
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
                throw bad(key, "a positive integer or \"auto\"");
            }
            return v.intValue();
        }
    }
}
