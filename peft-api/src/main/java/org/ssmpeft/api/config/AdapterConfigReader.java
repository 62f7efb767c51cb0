package org.ssmpeft.api.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.PeftMethodProvider;

/**
 * Reads and writes adapter config files (JSON or YAML).
 *
 * <p>A file holds one adapter, {@code {"method": "state-offset", "variant": "h"}}, or several,
 * {@code {"adapters": [{"name": "offset", "method": "state-offset"}, {"name": "lora", "method": "lora",
 * "layers": "0-11", "rank": 4}]}} ({@code adapters} may also be an object keyed by name). Each adapter has the
 * reserved keys {@code name}, {@code method}, {@code layers} (default {@code "all"}) and its method's fields.
 *
 * <p>Reading reports every problem of the file at once, each with its path ({@code adapters[1].rank}), the value
 * found and what was expected.
 */
public final class AdapterConfigReader {

    static final List<String> RESERVED = List.of("name", "method", "layers");
    /**
     * The longest config accepted, in bytes of a file or chars of a text. Adapter configs are a few hundred bytes;
     * the bound matters because SnakeYAML's scanner is superlinear on long scalars (about 6 s for one 1 MiB string
     * in a block mapping on a laptop core, four times that for 2 MiB), so a large input would hang the reader.
     */
    static final int MAX_CONFIG_SIZE = 256 << 10;

    private final PeftMethods methods;
    private final ObjectMapper json;
    private final ObjectMapper yaml;

    public AdapterConfigReader(PeftMethods methods) {
        this.methods = methods;
        this.json = ConfigFiles.json();
        this.yaml = ConfigFiles.yaml();
    }

    /** The adapters of {@code file}; throws {@link ConfigException} with every problem found. */
    public List<AdapterConfig> read(Path file) {
        List<ConfigProblem> problems = new ArrayList<>();
        List<AdapterConfig> out = read(file, Optional.empty(), problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(file.toString(), problems);
        }
        return out;
    }

    /** Every problem of {@code file}; with a model shape also the checks that need one (layers, targets). */
    public List<ConfigProblem> check(Path file, Optional<ModelShape> shape) {
        List<ConfigProblem> problems = new ArrayList<>();
        read(file, shape, problems);
        return problems;
    }

    /** Parses config text; throws {@link ConfigException} with every problem found. */
    public List<AdapterConfig> parse(String text, ConfigFormat format) {
        List<ConfigProblem> problems = new ArrayList<>();
        List<AdapterConfig> out = parse(text, format, Optional.empty(), problems);
        if (!problems.isEmpty()) {
            throw new ConfigException("", problems);
        }
        return out;
    }

    /** Parses config text, collecting problems; with a shape, also checks layers and method-specific limits. */
    public List<AdapterConfig> parse(String text, ConfigFormat format, Optional<ModelShape> shape,
                                     List<ConfigProblem> problems) {
        if (text.length() > MAX_CONFIG_SIZE) {
            problems.add(new ConfigProblem("", "config text is " + text.length() + " characters; a config is at most "
                    + MAX_CONFIG_SIZE));
            return List.of();
        }
        JsonNode root;
        try {
            root = ConfigFiles.parse(text, format);
        } catch (ConfigFiles.SyntaxException e) {
            problems.add(new ConfigProblem("", e.getMessage()));
            return List.of();
        }
        if (root.isMissingNode() || root.isNull()) {
            problems.add(new ConfigProblem("", "the file is empty; expected an adapter ({\"method\": ...}) or"
                    + " {\"adapters\": [...]}"));
            return List.of();
        }
        return adapters(root, shape, problems);
    }

    /**
     * The adapters of an already parsed config (one embedded in another file, such as a run config's
     * {@code adapter}); each problem's path starts with {@code path}.
     */
    public List<AdapterConfig> fromTree(JsonNode root, String path, List<ConfigProblem> problems) {
        List<ConfigProblem> own = new ArrayList<>();
        List<AdapterConfig> out = adapters(root, Optional.empty(), own);
        own.forEach(p -> problems.add(new ConfigProblem(p.path().isEmpty() ? path : ConfigBinder.join(path, p.path()),
                p.message())));
        return own.isEmpty() ? out : List.of();
    }

    private List<AdapterConfig> read(Path file, Optional<ModelShape> shape, List<ConfigProblem> problems) {
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_CONFIG_SIZE) {
                problems.add(new ConfigProblem("", "file is " + size + " bytes; a config file is at most "
                        + MAX_CONFIG_SIZE + " bytes"));
                return List.of();
            }
            text = ConfigFiles.readText(file);
        } catch (ConfigFiles.SyntaxException e) {
            problems.add(new ConfigProblem("", e.getMessage()));
            return List.of();
        } catch (IOException e) {
            problems.add(new ConfigProblem("", "cannot read " + file + ": " + e));
            return List.of();
        }
        return parse(text, ConfigFormat.of(file), shape, problems);
    }

    private List<AdapterConfig> adapters(JsonNode root, Optional<ModelShape> shape, List<ConfigProblem> problems) {
        if (!root.isObject()) {
            problems.add(new ConfigProblem("", "expected an adapter ({\"method\": ...}) or {\"adapters\": [...]},"
                    + " found " + ConfigBinder.describe(root)));
            return List.of();
        }
        List<AdapterConfig> out = new ArrayList<>();
        if (!root.has("adapters")) {
            adapter(root, "", AdapterConfig.DEFAULT_NAME, shape, problems).ifPresent(out::add);
            return out;
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("adapters")) {
                problems.add(new ConfigProblem(key, "unknown field beside 'adapters'; a file lists its adapters"
                        + " under 'adapters' or is a single adapter with 'method'"));
            }
        }
        JsonNode list = root.get("adapters");
        Set<String> seen = new HashSet<>();
        if (list.isArray()) {
            if (list.isEmpty()) {
                problems.add(new ConfigProblem("adapters", "expected at least one adapter, found an empty list"));
            }
            for (int i = 0; i < list.size(); i++) {
                String path = "adapters[" + i + "]";
                JsonNode a = list.get(i);
                JsonNode nameNode = a.path("name");
                if (a.isObject() && nameNode.isMissingNode()) {
                    problems.add(new ConfigProblem(path + ".name", "missing; every adapter of a list needs a name"));
                    continue;
                }
                if (nameNode.isTextual() && !seen.add(nameNode.asText())) {
                    problems.add(new ConfigProblem(path + ".name", "duplicate adapter name \"" + nameNode.asText()
                            + "\"; names must be unique in a file"));
                    continue;
                }
                adapter(a, path, null, shape, problems).ifPresent(out::add);
            }
        } else if (list.isObject()) {
            if (list.isEmpty()) {
                problems.add(new ConfigProblem("adapters", "expected at least one adapter, found an empty object"));
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = list.fields(); it.hasNext(); ) {
                var e = it.next();
                String path = "adapters." + e.getKey();
                if (e.getValue().has("name")) {
                    problems.add(new ConfigProblem(path + ".name", "an adapter keyed by name under 'adapters' must"
                            + " not repeat 'name'"));
                    continue;
                }
                adapter(e.getValue(), path, e.getKey(), shape, problems).ifPresent(out::add);
            }
        } else {
            problems.add(new ConfigProblem("adapters", "expected a list of adapters, found "
                    + ConfigBinder.describe(list)));
        }
        return out;
    }

    private Optional<AdapterConfig> adapter(JsonNode node, String path, String givenName, Optional<ModelShape> shape,
                                            List<ConfigProblem> problems) {
        if (!node.isObject()) {
            problems.add(new ConfigProblem(path, "expected an adapter object, found " + ConfigBinder.describe(node)));
            return Optional.empty();
        }
        int before = problems.size();
        String name = givenName;
        JsonNode nameNode = node.get("name");
        if (nameNode != null) {
            if (!nameNode.isTextual()) {
                problems.add(new ConfigProblem(ConfigBinder.join(path, "name"), "expected a string, found "
                        + ConfigBinder.describe(nameNode)));
            } else {
                name = nameNode.asText();
            }
        }
        if (name != null && !AdapterConfig.NAME.matcher(name).matches()) {
            problems.add(new ConfigProblem(ConfigBinder.join(path, "name"), AdapterConfig.nameProblem(name)));
        }
        JsonNode methodNode = node.get("method");
        PeftMethodProvider<?> provider = null;
        if (methodNode == null) {
            problems.add(new ConfigProblem(ConfigBinder.join(path, "method"), "missing; expected one of the installed"
                    + " methods: " + methods.installedNames()));
        } else if (!methodNode.isTextual()) {
            problems.add(new ConfigProblem(ConfigBinder.join(path, "method"), "expected a method name (string), found "
                    + ConfigBinder.describe(methodNode) + "; installed: " + methods.installedNames()));
        } else {
            String m = methodNode.asText();
            provider = methods.find(m).orElse(null);
            if (provider == null) {
                problems.add(new ConfigProblem(ConfigBinder.join(path, "method"), "unknown PEFT method '" + m + "'"
                        + Spelling.hint(m, methods.names()) + "; installed: " + methods.installedNames()));
            }
        }
        LayerSelection layers = LayerSelection.ALL;
        JsonNode layersNode = node.get("layers");
        if (layersNode != null) {
            layers = LayerSelection.parse(layersNode, ConfigBinder.join(path, "layers"), problems).orElse(null);
            if (layers != null && provider != null && !provider.perLayer() && !(layers instanceof LayerSelection.All)) {
                problems.add(new ConfigProblem(ConfigBinder.join(path, "layers"), "method '" + provider.name()
                        + "' acts on the whole model, not per layer; remove 'layers' or set it to \"all\""));
            }
            if (layers != null && shape.isPresent()) {
                layers.outOfRange(shape.get().layers()).ifPresent(m ->
                        problems.add(new ConfigProblem(ConfigBinder.join(path, "layers"), m)));
            }
        }
        if (provider == null) {
            return Optional.empty();
        }
        Optional<? extends Record> config = bindFields(provider, node, path, shape, problems);
        if (problems.size() > before || config.isEmpty() || name == null || layers == null) {
            return Optional.empty();
        }
        return Optional.of(new AdapterConfig(name, provider.name(), layers, config.get()));
    }

    private static <C extends Record> Optional<C> bindFields(PeftMethodProvider<C> provider, JsonNode node,
                                                             String path, Optional<ModelShape> shape,
                                                             List<ConfigProblem> problems) {
        Optional<C> config = ConfigBinder.bind(provider.configType(), provider.defaultConfig(), node, path, RESERVED,
                problems);
        if (config.isPresent() && shape.isPresent()) {
            for (ConfigProblem p : provider.problems(config.get(), shape.get())) {
                problems.add(new ConfigProblem(p.path().isEmpty() ? path : ConfigBinder.join(path, p.path()),
                        p.message()));
            }
        }
        return config;
    }

    /** One adapter as a JSON object: name, method, layers, then the method's fields. */
    public ObjectNode toTree(AdapterConfig a) {
        ObjectNode out = json.createObjectNode();
        out.put("name", a.name());
        out.put("method", a.method());
        out.set("layers", a.layers().toJson());
        out.setAll(ConfigBinder.toTree(a.config()));
        return out;
    }

    /** The adapters as a config file that {@link #parse} reads back to equal configs. */
    public String write(List<AdapterConfig> adapters, ConfigFormat format) {
        ObjectNode root = json.createObjectNode();
        ArrayNode list = root.putArray("adapters");
        adapters.forEach(a -> list.add(toTree(a)));
        try {
            return (format == ConfigFormat.YAML ? yaml : json).writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write config", e);
        }
    }
}
