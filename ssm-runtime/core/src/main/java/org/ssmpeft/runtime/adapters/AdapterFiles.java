package org.ssmpeft.runtime.adapters;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.AdapterConfigReader;
import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.config.ConfigException;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.io.AtomicFolders;
import org.ssmpeft.runtime.safetensors.DType;
import org.ssmpeft.runtime.safetensors.SafetensorsException;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;
import org.ssmpeft.runtime.safetensors.TensorInfo;

/**
 * Saves and loads one adapter as a folder in Hugging Face PEFT's layout: {@value #CONFIG_FILE} and
 * {@value #WEIGHTS_FILE} (F32, {@code __metadata__ {"format": "pt"}}, tensor names from {@link AdapterKeys}).
 *
 * <p><b>The config file</b> holds PEFT's keys where PEFT has the method (see {@link PeftConfigs}: LoRA on whole
 * projections is {@code "peft_type": "LORA"}, prompt tuning {@code "PROMPT_TUNING"}), else
 * {@code "peft_type": "SSM_PEFT"}, which PEFT refuses by name instead of loading something wrong. Beside them, under
 * {@code "ssm_peft"}, this framework's own record: {@code format} ({@value #FORMAT}), {@code adapter} (the full
 * adapter config as {@link AdapterConfigReader} writes it: name, method, layers and the method's fields, so every
 * method round-trips), {@code model_shape} (the shape it was saved for), {@code weights_sha256} (of the weights file)
 * and {@code config_sha256} (of the record's other fields in a canonical form, {@link #recordSha256}). PEFT ignores
 * keys it does not know, so a LoRA folder written here loads there.
 *
 * <p><b>What changes the computation is checked</b>, not only the weights: the record's hash catches an edit of the
 * adapter config or the model shape, and PEFT's keys beside it (peft_type, r, lora_alpha, use_rslora,
 * target_modules, layers_to_transform, num_virtual_tokens, ...) must be exactly what {@link PeftConfigs} derives from
 * the record, so a state-offset adapter relabelled LORA, or use_rslora flipped (the same weights, another scale), is
 * refused naming the key, its value and the saved one. Only where PEFT finds the base model
 * ({@code base_model_name_or_path}, {@code revision}) and {@code inference_mode} may be edited. Records of format 1
 * (before {@code config_sha256}) still load; their PEFT keys are checked the same way.
 *
 * <p><b>Saving</b> replaces the folder's two files as one unit ({@link AtomicFolders}): after a kill at any moment
 * the folder holds the old adapter or the new one, whole; other files in the folder are kept.
 *
 * <p><b>Loading</b> checks everything before it returns anything: the config (method installed, fields valid, layers
 * inside the model, through {@link AdapterConfigReader}), the model family, the weights file (the safetensors reader
 * validates its structure; the SHA-256 catches changed bytes), and every tensor against the adapter the config makes
 * on the given model shape: none missing, none unexpected, each of the expected shape and a floating-point dtype,
 * holding no NaN or ±Inf ({@link org.ssmpeft.runtime.safetensors.FiniteValues}). The adapter is built fresh,
 * filled, and returned only when complete; on any problem an {@link AdapterFileException} lists them all and nothing
 * exists to be half applied. A folder that PEFT wrote (no {@code "ssm_peft"} key) loads when its {@code peft_type}
 * is LORA or PROMPT_TUNING, see {@link PeftConfigs}.
 */
public final class AdapterFiles {

    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /**
     * The version of the {@code "ssm_peft"} record this class writes: 2 adds {@code config_sha256}. Records of
     * format 1 (saved before it) are still read.
     */
    public static final int FORMAT = 2;
    /** The oldest version of the record that loads. */
    static final int OLDEST_FORMAT = 1;

    static final String OWN_KEY = "ssm_peft";
    static final String CONFIG_SHA_KEY = "config_sha256";
    /** An adapter config is a few KiB; the bound keeps a wrong file from filling the heap. */
    static final long MAX_CONFIG_BYTES = 1 << 20;

    static final ObjectMapper JSON = ConfigFiles.json();

    private AdapterFiles() {
    }

    /** Saves {@code adapter} into {@code dir} (created if needed; an adapter already there is replaced). */
    public static void save(Adapter adapter, Path dir) throws IOException {
        save(adapter, dir, Optional.empty());
    }

    /**
     * Saves {@code adapter} into {@code dir}; {@code baseModel} goes to PEFT's {@code base_model_name_or_path}
     * (e.g. {@code state-spaces/mamba-130m-hf}), which PEFT uses to find the base model.
     */
    public static void save(Adapter adapter, Path dir, Optional<String> baseModel) throws IOException {
        for (var s : adapter.parameterSpecs()) {
            if ((s.initializer() instanceof org.ssmpeft.api.adapter.Initializer.BaseRowNorm
                    || s.initializer() instanceof org.ssmpeft.api.adapter.Initializer.PrincipalFactor)
                    && hasNaN(adapter.parameter(s.name()).data())) {
                throw new IllegalStateException("adapter '" + adapter.name() + "' (" + adapter.method() + "): "
                        + s.name() + " is not set yet: it starts from the base weight (DoRA's row norms, PiSSA's"
                        + " principal factors), set the first time"
                        + " the adapter acts on its model; run a forward pass (or train) before saving");
            }
        }
        Map<String, String> keys = AdapterKeys.of(adapter);
        var writer = new SafetensorsWriter().metadata("format", "pt");
        adapter.parameters().forEach((name, t) -> writer.putF32(keys.get(name), t.data().clone(), longs(t.shape())));
        var reader = new AdapterConfigReader(PeftMethods.of(List.of()));
        AdapterConfig config = new AdapterConfig(adapter.name(), adapter.method(), adapter.layers(), adapter.config());
        ObjectNode fields = reader.toTree(config);
        // the two files are one unit: a kill at any moment leaves the old adapter or the new one, whole
        AtomicFolders.replace(dir, folder -> {
            Path weights = folder.resolve(WEIGHTS_FILE);
            writer.write(weights);
            Map<String, JsonNode> root = new TreeMap<>(PeftConfigs.peftKeys(adapter, fields, baseModel));
            ObjectNode own = JSON.createObjectNode();
            own.put("format", FORMAT);
            own.set("adapter", fields);
            own.set("model_shape", shapeToJson(adapter.shape()));
            own.put("weights_sha256", sha256(weights));
            // hashed as it will be read back (numbers as the file spells them)
            own.put(CONFIG_SHA_KEY, recordSha256(JSON.readTree(JSON.writeValueAsString(own))));
            root.put(OWN_KEY, own);
            ObjectNode out = JSON.createObjectNode();
            root.forEach(out::set);
            AtomicFiles.write(folder.resolve(CONFIG_FILE), JSON.writeValueAsString(out).getBytes(StandardCharsets.UTF_8));
        }, Set.of(CONFIG_FILE, WEIGHTS_FILE));
    }

    private static boolean hasNaN(float[] values) {
        for (float v : values) {
            if (Float.isNaN(v)) {
                return true;
            }
        }
        return false;
    }

    /** The most floats an adapter of a config is allocated with before its tensors' shapes are compared (16 MiB). */
    static final long ALLOCATED_BEFORE_SHAPES_ARE_CHECKED = 4L << 20;

    /** Loads the adapter in {@code dir} onto a model of {@code shape}, under the name its config gives. */
    public static Adapter load(Path dir, ModelShape shape, AdapterFactory factory) throws AdapterFileException {
        return load(dir, shape, factory, Optional.empty());
    }

    /**
     * Loads the adapter in {@code dir} onto a model of {@code shape}; {@code name} replaces the name in the file (a
     * folder written by PEFT has none; it is then {@code default}, PEFT's).
     */
    public static Adapter load(Path dir, ModelShape shape, AdapterFactory factory, Optional<String> name)
            throws AdapterFileException {
        // a kill between the two renames of a save leaves the previous adapter, whole, beside the folder
        dir = AtomicFolders.readable(dir).orElse(dir);
        Path configFile = dir.resolve(CONFIG_FILE);
        Path weightsFile = dir.resolve(WEIGHTS_FILE);
        if (!Files.isDirectory(dir)) {
            throw new AdapterFileException(dir, List.of("no such folder"));
        }
        List<String> problems = new ArrayList<>();
        if (!Files.isRegularFile(configFile)) {
            problems.add("missing " + CONFIG_FILE + " (an adapter folder holds " + CONFIG_FILE + " and "
                    + WEIGHTS_FILE + ")");
        }
        if (!Files.isRegularFile(weightsFile)) {
            problems.add("missing " + WEIGHTS_FILE + (Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a torch pickle and is not read: save the adapter with safetensors)"
                    : ""));
        }
        if (!problems.isEmpty()) {
            throw new AdapterFileException(dir, problems);
        }
        JsonNode root = readConfig(dir, configFile);
        Optional<String> recordedSha = Optional.ofNullable(root.path(OWN_KEY).get("weights_sha256"))
                .filter(JsonNode::isTextual).map(JsonNode::asText);
        if (recordedSha.isPresent()) {
            String actual = sha256(dir, weightsFile);
            if (!actual.equals(recordedSha.get())) {
                throw new AdapterFileException(dir, List.of(WEIGHTS_FILE + ": SHA-256 " + actual + " differs from"
                        + " the weights_sha256 " + recordedSha.get() + " recorded in " + CONFIG_FILE + "; the"
                        + " weights file was changed or replaced after the config was written (corruption, or an"
                        + " interrupted save over an older adapter)"));
            }
        }
        try (SafetensorsFile file = SafetensorsFile.open(weightsFile)) {
            Parsed parsed = parseConfig(root, shape, factory, name, new LinkedHashSet<>(file.names()), problems);
            if (parsed.savedFor().isPresent() && parsed.savedFor().get().family() != shape.family()) {
                problems.addFirst("the adapter was saved for a " + parsed.savedFor().get().family() + " model ("
                        + parsed.savedFor().get().describe() + ") but the base model is a " + shape.family()
                        + " model (" + shape.describe() + ")");
            }
            if (parsed.config().isEmpty()) {
                throw new AdapterFileException(dir, problems);
            }
            Adapter fresh;
            try {
                // sizes before allocation: a config asking for many more values than the file holds (r: 4096
                // beside rank-4 weights) is refused from the method's parameter specs, before its tensors are built;
                // a small mismatch is left to checkTensors, which names each tensor and both shapes
                long wanted = factory.parameterCount(parsed.config().get(), shape);
                long held = 0;
                for (String n : file.names()) {
                    held += file.info(n).elementCount();
                }
                if (wanted > held && wanted > ALLOCATED_BEFORE_SHAPES_ARE_CHECKED) {
                    problems.add(CONFIG_FILE + " describes a " + parsed.config().get().method() + " adapter of "
                            + wanted + " parameters on " + shape.describe() + ", but " + WEIGHTS_FILE + " holds "
                            + held + " values; expected the config and the weights of one adapter");
                    throw new AdapterFileException(dir, problems);
                }
                fresh = factory.create(parsed.config().get(), shape, AdapterFactory.seeded(0));
            } catch (ConfigException | IllegalArgumentException e) {
                problems.add("the adapter does not fit " + shape.describe() + ": " + e.getMessage());
                throw new AdapterFileException(dir, problems);
            }
            checkTensors(fresh, file, shape, parsed.savedFor(), !root.has(OWN_KEY), problems);
            if (!problems.isEmpty()) {
                throw new AdapterFileException(dir, problems);
            }
            Map<String, String> keys = AdapterKeys.of(fresh);
            for (var e : fresh.parameters().entrySet()) {
                float[] values = file.readFiniteFloats(keys.get(e.getKey()));
                System.arraycopy(values, 0, e.getValue().data(), 0, values.length);
            }
            fresh.refreshDerived();
            return fresh;
        } catch (SafetensorsException e) {
            throw new AdapterFileException(dir, WEIGHTS_FILE + " is refused: " + e.getMessage(), e);
        }
    }

    /** What the config file says: the adapter config and the shape it was saved for (unknown in PEFT's files). */
    private record Parsed(Optional<AdapterConfig> config, Optional<ModelShape> savedFor) {
    }

    private static JsonNode readConfig(Path dir, Path file) throws AdapterFileException {
        try {
            long size = Files.size(file);
            if (size > MAX_CONFIG_BYTES) {
                throw new AdapterFileException(dir, List.of(CONFIG_FILE + " is " + size + " bytes; an adapter config"
                        + " is at most " + MAX_CONFIG_BYTES));
            }
            JsonNode root = ConfigFiles.parse(ConfigFiles.readText(file), ConfigFormat.JSON);
            if (!root.isObject()) {
                throw new AdapterFileException(dir, List.of(CONFIG_FILE + ": expected a JSON object, found "
                        + (root.isMissingNode() ? "an empty file" : root.getNodeType().toString().toLowerCase())));
            }
            return root;
        } catch (ConfigFiles.SyntaxException e) {
            throw new AdapterFileException(dir, CONFIG_FILE + ": " + e.getMessage(), e);
        } catch (AdapterFileException e) {
            throw e;
        } catch (IOException e) {
            throw new AdapterFileException(dir, CONFIG_FILE + " cannot be read: " + e, e);
        }
    }

    private static Parsed parseConfig(JsonNode root, ModelShape shape, AdapterFactory factory, Optional<String> name,
                                      Set<String> tensorKeys, List<String> problems) {
        JsonNode own = root.get(OWN_KEY);
        if (own == null) {
            Optional<ObjectNode> tree = PeftConfigs.fromPeft(root, name.orElse(AdapterConfig.DEFAULT_NAME),
                    tensorKeys, problems);
            return new Parsed(tree.flatMap(t -> bind(t, CONFIG_FILE + " (read as Hugging Face PEFT's "
                    + root.path("peft_type").asText() + " config): ", shape, factory, problems)), Optional.empty());
        }
        String where = CONFIG_FILE + ": " + OWN_KEY;
        if (!own.isObject()) {
            problems.add(where + ": expected an object, found " + own.getNodeType().toString().toLowerCase());
            return new Parsed(Optional.empty(), Optional.empty());
        }
        JsonNode format = own.get("format");
        if (format == null || !format.isInt() || format.intValue() < OLDEST_FORMAT || format.intValue() > FORMAT) {
            problems.add(where + ".format: expected " + OLDEST_FORMAT + " to " + FORMAT + ", found " + format
                    + (format != null && format.isInt() && format.intValue() > FORMAT
                    ? " (written by a newer version of this framework)" : ""));
            return new Parsed(Optional.empty(), Optional.empty());
        }
        Optional<ModelShape> savedFor = shapeFromJson(own.get("model_shape"), where + ".model_shape", problems);
        JsonNode sha = own.get("weights_sha256");
        if (sha == null || !sha.isTextual() || !sha.asText().matches("[0-9a-f]{64}")) {
            problems.add(where + ".weights_sha256: expected 64 lower-case hex digits, found " + sha);
        }
        // format 2 on: the record itself is hashed, so an edit of anything in it (adapter, model_shape) is caught
        Optional<String> recordEdited = Optional.empty();
        if (format.intValue() >= 2) {
            JsonNode recorded = own.get(CONFIG_SHA_KEY);
            if (recorded == null || !recorded.isTextual() || !recorded.asText().matches("[0-9a-f]{64}")) {
                problems.add(where + "." + CONFIG_SHA_KEY + ": expected 64 lower-case hex digits, found " + recorded);
            } else {
                String actual = recordSha256(own);
                if (!actual.equals(recorded.asText())) {
                    recordEdited = Optional.of(where + ": the record (adapter, model_shape, weights_sha256) has"
                            + " SHA-256 " + actual + ", not the " + CONFIG_SHA_KEY + " " + recorded.asText()
                            + " recorded when the adapter was saved; the file was edited after it was saved (save"
                            + " the adapter again instead of editing it)");
                }
            }
        }
        JsonNode adapter = own.get("adapter");
        if (adapter == null || !adapter.isObject()) {
            problems.add(where + ".adapter: expected the adapter's config object, found " + adapter);
            return new Parsed(Optional.empty(), savedFor);
        }
        ObjectNode tree = adapter.deepCopy();
        name.ifPresent(n -> tree.put("name", n));
        Optional<AdapterConfig> config = bind(tree, where + ".adapter.", shape, factory, problems);
        // what a field-level problem does not already explain: an edited record, PEFT keys that disagree with it
        if (problems.isEmpty()) {
            recordEdited.ifPresent(problems::add);
            if (config.isPresent() && savedFor.isPresent()) {
                AdapterConfig c = config.get();
                Map<String, JsonNode> expected = PeftConfigs.peftKeys(c.method(), c.layers(), savedFor.get(),
                        factory.reader().toTree(c), Optional.empty());
                try {
                    // compared as a save writes and a load reads them: through the JSON text
                    ObjectNode derived = JSON.createObjectNode();
                    expected.forEach(derived::set);
                    JsonNode reread = JSON.readTree(JSON.writeValueAsString(derived));
                    Map<String, JsonNode> rereadKeys = new LinkedHashMap<>();
                    reread.properties().forEach(e -> rereadKeys.put(e.getKey(), e.getValue()));
                    problems.addAll(PeftConfigs.disagreements(root, rereadKeys, format.intValue() >= 2
                            && recordEdited.isEmpty()));
                } catch (JacksonException e) {
                    throw new IllegalStateException("PEFT's keys are plain JSON", e);
                }
            }
        }
        return new Parsed(problems.isEmpty() ? config : Optional.empty(), savedFor);
    }

    /**
     * The SHA-256 of the {@code "ssm_peft"} record without its {@code config_sha256}, in a canonical form: object
     * keys sorted, no white space, numbers by value (16 and 16.0 alike), strings JSON-escaped. So re-indenting the
     * file or reordering its keys keeps the hash, and any change of a value does not.
     */
    static String recordSha256(JsonNode own) {
        ObjectNode copy = own.deepCopy();
        copy.remove(CONFIG_SHA_KEY);
        StringBuilder b = new StringBuilder();
        canonical(copy, b);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(b.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static void canonical(JsonNode n, StringBuilder b) {
        if (n.isObject()) {
            b.append('{');
            List<String> keys = new ArrayList<>();
            n.fieldNames().forEachRemaining(keys::add);
            keys.sort(null);
            for (int i = 0; i < keys.size(); i++) {
                b.append(i == 0 ? "" : ",").append(JSON.getNodeFactory().textNode(keys.get(i))).append(':');
                canonical(n.get(keys.get(i)), b);
            }
            b.append('}');
        } else if (n.isArray()) {
            b.append('[');
            for (int i = 0; i < n.size(); i++) {
                b.append(i == 0 ? "" : ",");
                canonical(n.get(i), b);
            }
            b.append(']');
        } else if (n.isFloatingPointNumber() && !Double.isFinite(n.doubleValue())) {
            b.append(n.asText()); // 1e9999 reads as Infinity, which has no decimal value
        } else if (n.isNumber()) {
            b.append(n.decimalValue().stripTrailingZeros().toString());
        } else {
            b.append(n);
        }
    }

    /** The adapter config of a tree, checked (with the shape) by the reader; problems get {@code where} before. */
    private static Optional<AdapterConfig> bind(ObjectNode tree, String where, ModelShape shape,
                                                AdapterFactory factory, List<String> problems) {
        List<ConfigProblem> found = new ArrayList<>();
        List<AdapterConfig> configs = factory.reader().parse(tree.toString(), ConfigFormat.JSON, Optional.of(shape),
                found);
        for (ConfigProblem p : found) {
            problems.add(where + p);
        }
        return found.isEmpty() && configs.size() == 1 ? Optional.of(configs.getFirst()) : Optional.empty();
    }

    /**
     * The copy of the base head that PEFT's {@code save_pretrained} adds to a LoRA adapter targeting {@code lm_head}
     * ({@code save_embedding_layers="auto"} counts lm_head as an embedding layer; PEFT 0.21 writes it with the
     * warning "Setting `save_embedding_layers` to `True`"). It is a base weight, not part of the adapter: checked for
     * its shape and dtype, not applied (the adapter acts on the base model it is loaded onto; PEFT instead writes it
     * back into its model on load).
     */
    static final String PEFT_HEAD_BASE_COPY = AdapterKeys.PREFIX + "lm_head.base_layer.weight";

    private static void checkTensors(Adapter fresh, SafetensorsFile file, ModelShape shape,
                                     Optional<ModelShape> savedFor, boolean writtenByPeft, List<String> problems) {
        Map<String, String> keys = AdapterKeys.of(fresh);
        Map<String, String> parameterByKey = new LinkedHashMap<>();
        keys.forEach((p, k) -> parameterByKey.put(k, p));
        String what = fresh.method() + " adapter '" + fresh.name() + "' on " + shape.describe();
        String saved = savedFor.filter(s -> !s.equals(shape)).map(s -> " (the adapter was saved for " + s.describe()
                + ")").orElse("");
        for (var e : parameterByKey.entrySet()) {
            Tensor expected = fresh.parameter(e.getValue());
            Optional<TensorInfo> info = file.find(e.getKey());
            if (info.isEmpty()) {
                problems.add("missing tensor '" + e.getKey() + "': the " + what + " needs it with shape "
                        + Arrays.toString(longs(expected.shape())) + saved);
                continue;
            }
            TensorInfo t = info.get();
            if (!Arrays.equals(t.shape(), longs(expected.shape()))) {
                problems.add("tensor '" + e.getKey() + "': the " + what + " needs shape "
                        + Arrays.toString(longs(expected.shape())) + ", the file has " + t.shapeString() + saved);
            } else if (t.dtype() != DType.F32 && t.dtype() != DType.F16 && t.dtype() != DType.BF16
                    && t.dtype() != DType.F64) {
                problems.add("tensor '" + e.getKey() + "': expected a floating-point dtype (F32, F16, BF16, F64),"
                        + " found " + t.dtype());
            }
        }
        Set<String> unexpected = new LinkedHashSet<>(file.names());
        unexpected.removeAll(parameterByKey.keySet());
        boolean headDelta = parameterByKey.containsKey(AdapterKeys.lora(-1,
                org.ssmpeft.api.hooks.Projection.HEAD, "lora_A"));
        if (writtenByPeft && headDelta && unexpected.remove(PEFT_HEAD_BASE_COPY)) {
            TensorInfo t = file.find(PEFT_HEAD_BASE_COPY).orElseThrow();
            long[] head = {shape.vocab(), shape.dModel()};
            if (!Arrays.equals(t.shape(), head) || (t.dtype() != DType.F32 && t.dtype() != DType.F16
                    && t.dtype() != DType.BF16 && t.dtype() != DType.F64)) {
                problems.add("tensor '" + PEFT_HEAD_BASE_COPY + "' (PEFT's copy of the base lm_head): expected a"
                        + " floating-point tensor of shape " + Arrays.toString(head) + " for " + shape.describe()
                        + ", the file has " + t.dtype() + " " + t.shapeString() + saved);
            }
        }
        for (String k : unexpected) {
            problems.add("unexpected tensor '" + k + "' (shape " + file.find(k).orElseThrow().shapeString()
                    + "): the " + what + " has no parameter saved under that name" + saved);
        }
    }

    static ObjectNode shapeToJson(ModelShape s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("family", s.family().id());
        o.put("layers", s.layers());
        o.put("d_model", s.dModel());
        o.put("d_inner", s.dInner());
        o.put("d_state", s.dState());
        o.put("dt_rank", s.dtRank());
        o.put("conv_kernel", s.convKernel());
        o.put("heads", s.heads());
        o.put("head_dim", s.headDim());
        o.put("groups", s.groups());
        o.put("vocab", s.vocab());
        return o;
    }

    private static Optional<ModelShape> shapeFromJson(JsonNode o, String where, List<String> problems) {
        if (o == null || !o.isObject()) {
            problems.add(where + ": expected an object with family, layers, d_model, ..., found " + o);
            return Optional.empty();
        }
        List<String> ints = List.of("layers", "d_model", "d_inner", "d_state", "dt_rank", "conv_kernel", "heads",
                "head_dim", "groups", "vocab");
        int[] v = new int[ints.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode n = o.get(ints.get(i));
            if (n == null || !n.isInt()) {
                problems.add(where + "." + ints.get(i) + ": expected an integer, found " + n);
                return Optional.empty();
            }
            v[i] = n.intValue();
        }
        try {
            return Optional.of(new ModelShape(ModelFamily.fromId(o.path("family").asText()), v[0], v[1], v[2], v[3],
                    v[4], v[5], v[6], v[7], v[8], v[9]));
        } catch (IllegalArgumentException e) {
            problems.add(where + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    static long[] longs(int[] shape) {
        return Arrays.stream(shape).asLongStream().toArray();
    }

    private static String sha256(Path dir, Path file) throws AdapterFileException {
        try {
            return sha256(file);
        } catch (IOException e) {
            throw new AdapterFileException(dir, WEIGHTS_FILE + " cannot be read: " + e, e);
        }
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        byte[] buf = new byte[1 << 16];
        org.ssmpeft.api.config.ConfigFiles.requireRegularFile(file);  // a named pipe would block the read
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
