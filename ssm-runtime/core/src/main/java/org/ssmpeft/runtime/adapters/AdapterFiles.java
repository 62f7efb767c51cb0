package org.ssmpeft.runtime.adapters;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
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
 * {@code "ssm_peft"}, this framework's own record: {@code format} (1), {@code adapter} (the full adapter config as
 * {@link AdapterConfigReader} writes it: name, method, layers and the method's fields, so every method round-trips),
 * {@code model_shape} (the shape it was saved for) and {@code weights_sha256} (of the weights file). PEFT ignores keys
 * it does not know, so a LoRA folder written here loads there.
 *
 * <p><b>Saving</b> writes the weights file first and the config last, each atomically (temp file, fsync, rename). A
 * crash before the config leaves a folder without a config (refused); a crash while overwriting an older adapter
 * leaves new weights beside the old config, which the recorded SHA-256 refuses. So no crash leaves a loadable half
 * adapter.
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
    /** The version of the {@code "ssm_peft"} record this class writes. */
    public static final int FORMAT = 1;

    static final String OWN_KEY = "ssm_peft";
    /** An adapter config is a few KiB; the bound keeps a wrong file from filling the heap. */
    static final long MAX_CONFIG_BYTES = 1 << 20;

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

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
            root.put(OWN_KEY, own);
            ObjectNode out = JSON.createObjectNode();
            root.forEach(out::set);
            AtomicFiles.write(folder.resolve(CONFIG_FILE), JSON.writeValueAsString(out).getBytes(StandardCharsets.UTF_8));
        }, Set.of(CONFIG_FILE, WEIGHTS_FILE));
    }

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
                fresh = factory.create(parsed.config().get(), shape, AdapterFactory.seeded(0));
            } catch (ConfigException | IllegalArgumentException e) {
                problems.add("the adapter does not fit " + shape.describe() + ": " + e.getMessage());
                throw new AdapterFileException(dir, problems);
            }
            checkTensors(fresh, file, shape, parsed.savedFor(), problems);
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
            JsonNode root = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (root == null || !root.isObject()) {
                throw new AdapterFileException(dir, List.of(CONFIG_FILE + ": expected a JSON object, found "
                        + (root == null ? "an empty file" : root.getNodeType().toString().toLowerCase())));
            }
            return root;
        } catch (JacksonException e) {
            var loc = e.getLocation();
            throw new AdapterFileException(dir, CONFIG_FILE + ": not valid JSON" + (loc == null ? "" : " at line "
                    + loc.getLineNr() + ", column " + loc.getColumnNr()) + ": " + e.getOriginalMessage(), e);
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
        if (format == null || !format.isInt() || format.intValue() != FORMAT) {
            problems.add(where + ".format: expected " + FORMAT + ", found " + format
                    + (format != null && format.isInt() && format.intValue() > FORMAT
                    ? " (written by a newer version of this framework)" : ""));
            return new Parsed(Optional.empty(), Optional.empty());
        }
        Optional<ModelShape> savedFor = shapeFromJson(own.get("model_shape"), where + ".model_shape", problems);
        JsonNode sha = own.get("weights_sha256");
        if (sha == null || !sha.isTextual() || !sha.asText().matches("[0-9a-f]{64}")) {
            problems.add(where + ".weights_sha256: expected 64 lower-case hex digits, found " + sha);
        }
        JsonNode adapter = own.get("adapter");
        if (adapter == null || !adapter.isObject()) {
            problems.add(where + ".adapter: expected the adapter's config object, found " + adapter);
            return new Parsed(Optional.empty(), savedFor);
        }
        ObjectNode tree = adapter.deepCopy();
        name.ifPresent(n -> tree.put("name", n));
        Optional<AdapterConfig> config = bind(tree, where + ".adapter.", shape, factory, problems);
        return new Parsed(problems.isEmpty() ? config : Optional.empty(), savedFor);
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

    private static void checkTensors(Adapter fresh, SafetensorsFile file, ModelShape shape,
                                     Optional<ModelShape> savedFor, List<String> problems) {
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
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
