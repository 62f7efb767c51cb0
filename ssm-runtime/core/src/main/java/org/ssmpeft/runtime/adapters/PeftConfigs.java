package org.ssmpeft.runtime.adapters;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.shape.ModelShape;

/**
 * Hugging Face PEFT's {@code adapter_config.json} keys, both ways, for the methods PEFT has too. The methods are
 * matched by their registered names and config fields ({@code lora}: rank, alpha, dropout, targets, use_rslora, use_dora;
 * {@code prompt}: num_virtual_tokens), a string-level contract: the runtime has no compile-time knowledge of any
 * method.
 *
 * <ul>
 *   <li><b>LORA</b> for {@code lora} on whole projections (in_proj, x_proj, dt_proj, out_proj, head as PEFT's
 *       {@code lm_head}): r, lora_alpha, lora_dropout, use_rslora, use_dora, target_modules, layers_to_transform (null for all
 *       layers), bias "none", fan_in_fan_out false, modules_to_save null, init_lora_weights true, task_type
 *       "CAUSAL_LM", auto_mapping null (PEFT writes one only for configs without a task type), inference_mode true,
 *       empty rank/alpha patterns. Row blocks (in_proj.x, x_proj.dt, ...) have no PEFT module, and
 *       PEFT would skip lm_head under layers_to_transform (it has no layer index): those adapters are written as
 *       SSM_PEFT.</li>
 *   <li><b>PROMPT_TUNING</b> for {@code prompt}: num_virtual_tokens, token_dim, num_layers,
 *       num_transformer_submodules 1, prompt_tuning_init "RANDOM".</li>
 *   <li><b>SSM_PEFT</b> for everything else (state-offset, initial-state, prefix, LoRA on row blocks, third-party
 *       methods): no PEFT type of that name exists, so PEFT refuses the folder by name; this framework reads its
 *       {@code "ssm_peft"} record.</li>
 * </ul>
 *
 * <p>Reading a folder that PEFT wrote (no {@code "ssm_peft"} record) accepts peft_type LORA and PROMPT_TUNING and
 * refuses, naming the key, every option that would change the computation and has no counterpart here:
 * fan_in_fan_out, bias other than "none", lora_bias, modules_to_save, rank_pattern, alpha_pattern,
 * layer_replication, target_parameters, trainable_token_indices, use_qalora; and target modules other than the
 * projections above (e.g. PEFT's {@code embeddings} or {@code conv1d}). Other keys (init options, peft_version,
 * revision, ...) do not change a trained adapter and are ignored. A regex {@code target_modules} string is resolved
 * from the tensor names.
 */
final class PeftConfigs {

    static final String OWN_TYPE = "SSM_PEFT";

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final Map<String, Projection> MODULES = Map.of("in_proj", Projection.IN_PROJ, "x_proj",
            Projection.X_PROJ, "dt_proj", Projection.DT_PROJ, "out_proj", Projection.OUT_PROJ, "lm_head",
            Projection.HEAD);
    private static final Pattern LORA_KEY = Pattern.compile(
            "base_model\\.model\\.(?:backbone\\.layers\\.(\\d+)\\.mixer\\.([a-z_]+)|(lm_head))\\.(?:lora_[AB]\\.weight|lora_magnitude_vector)");

    private PeftConfigs() {
    }

    /** PEFT's keys for {@code adapter}, whose fields (as the config reader writes them) are {@code fields}. */
    static Map<String, JsonNode> peftKeys(Adapter adapter, ObjectNode fields, Optional<String> baseModel) {
        return peftKeys(adapter.method(), adapter.layers(), adapter.shape(), fields, baseModel);
    }

    /**
     * PEFT's keys for an adapter of {@code method} on {@code layers} of a model of {@code shape}, whose fields (as
     * the config reader writes them) are {@code fields}: what a save writes, and what a load expects beside the
     * {@code "ssm_peft"} record.
     */
    static Map<String, JsonNode> peftKeys(String method, LayerSelection selection, ModelShape shape,
                                          ObjectNode fields, Optional<String> baseModel) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        out.put("base_model_name_or_path", baseModel.<JsonNode>map(F::textNode).orElse(F.nullNode()));
        out.put("revision", F.nullNode());
        out.put("task_type", F.textNode("CAUSAL_LM"));
        out.put("inference_mode", F.booleanNode(true));
        out.put("auto_mapping", F.nullNode());
        int layers = shape.layers();
        if (method.equals("lora") && loraIsPeftCompatible(fields)) {
            out.put("peft_type", F.textNode("LORA"));
            out.put("r", fields.get("rank"));
            out.put("lora_alpha", number(fields.get("alpha").doubleValue()));
            out.put("lora_dropout", fields.get("dropout"));
            out.put("use_rslora", fields.get("use_rslora"));
            ArrayNode targets = F.arrayNode();
            fields.get("targets").forEach(t -> targets.add(Projection.fromConfigName(t.asText()).orElseThrow()
                    .module()));
            out.put("target_modules", targets);
            int[] selected = selection.resolve(layers);
            if (selected.length == layers) {
                out.put("layers_to_transform", F.nullNode());
            } else {
                ArrayNode ls = F.arrayNode();
                for (int l : selected) {
                    ls.add(l);
                }
                out.put("layers_to_transform", ls);
            }
            out.put("layers_pattern", F.nullNode());
            out.put("bias", F.textNode("none"));
            out.put("fan_in_fan_out", F.booleanNode(false));
            out.put("modules_to_save", F.nullNode());
            // PiSSA: PEFT, loading the adapter, takes the residual of the base weight again and then the saved A, B:
            // the model this runtime computes
            out.put("init_lora_weights", "pissa".equals(fields.path("init_lora_weights").asText())
                    ? F.textNode("pissa") : F.booleanNode(true));
            out.put("rank_pattern", F.objectNode());
            out.put("alpha_pattern", F.objectNode());
            out.put("use_dora", fields.get("use_dora"));
            out.put("lora_bias", F.booleanNode(false));
            out.put("exclude_modules", F.nullNode());
            out.put("layer_replication", F.nullNode());
            out.put("megatron_config", F.nullNode());
            out.put("megatron_core", F.textNode("megatron.core"));
            out.put("loftq_config", F.objectNode());
        } else if (method.equals("prompt")) {
            out.put("peft_type", F.textNode("PROMPT_TUNING"));
            out.put("num_virtual_tokens", fields.get("num_virtual_tokens"));
            out.put("token_dim", F.numberNode(shape.dModel()));
            out.put("num_layers", F.numberNode(layers));
            out.put("num_transformer_submodules", F.numberNode(1));
            // PEFT's PeftModel refuses a prompt-learning config without it on a model whose config has no attention
            // heads (Mamba: "Please specify `num_attention_heads`"); prompt tuning does not use it
            out.put("num_attention_heads", F.numberNode(1));
            out.put("prompt_tuning_init", F.textNode("RANDOM"));
            out.put("prompt_tuning_init_text", F.nullNode());
            out.put("tokenizer_name_or_path", F.nullNode());
            out.put("tokenizer_kwargs", F.nullNode());
            out.put("modules_to_save", F.nullNode());
        } else {
            out.put("peft_type", F.textNode(OWN_TYPE));
        }
        return out;
    }

    private static boolean loraIsPeftCompatible(ObjectNode fields) {
        boolean head = false;
        for (JsonNode t : fields.get("targets")) {
            Projection p = Projection.fromConfigName(t.asText()).orElseThrow();
            if (p.isRowBlock()) {
                return false;
            }
            head |= p == Projection.HEAD;
        }
        return !head || fields.get("layers").asText().equals("all");
    }

    private static JsonNode number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? F.numberNode((long) v) : F.numberNode(v);
    }

    /**
     * Keys beside the {@code "ssm_peft"} record that change nothing here or in PEFT: where PEFT finds the base model
     * (a user may point it at a local copy) and whether PEFT loads the adapter for training; and
     * {@code num_attention_heads}, which PEFT asks for on prompt-learning configs but prompt tuning does not use
     * (folders saved before it was written as 1 have null there).
     */
    static final Set<String> INFORMATIONAL = Set.of("base_model_name_or_path", "revision", "inference_mode",
            "num_attention_heads");

    /**
     * PEFT options that a save never writes and that would change what PEFT computes with a LoRA folder: present
     * beside the record with a value other than their default, they are refused.
     */
    private static final Set<String> LORA_UNWRITTEN = Set.of("target_parameters", "trainable_token_indices",
            "use_qalora");

    /**
     * How the PEFT-level keys of a config file that has the {@code "ssm_peft"} record disagree with {@code expected}
     * (what {@link #peftKeys} derives from the record): one message per key whose value differs or that is missing
     * (every key but {@link #INFORMATIONAL}), and per unwritten LoRA option that is set. Numbers compare by value.
     *
     * @param recordTrusted whether the record is known to be as saved (its {@code config_sha256} matched): then the
     *                      message says what the adapter was saved with; else only that the two disagree
     */
    static List<String> disagreements(JsonNode root, Map<String, JsonNode> expected, boolean recordTrusted) {
        String where = AdapterFiles.CONFIG_FILE + ": ";
        String edited = "; the file was edited after it was saved (save the adapter again instead of editing it)";
        List<String> problems = new ArrayList<>();
        for (var e : expected.entrySet()) {
            String key = e.getKey();
            if (INFORMATIONAL.contains(key)) {
                continue;
            }
            String saved = recordTrusted ? "the adapter was saved with " + key + " " + e.getValue()
                    : "the '" + AdapterFiles.OWN_KEY + "' record implies " + key + " " + e.getValue();
            JsonNode found = root.get(key);
            if (found == null) {
                problems.add(where + key + " is missing but " + saved + edited);
            } else if (!found.equals(BY_VALUE, e.getValue())) {
                problems.add(where + key + " is " + found + " but " + saved + edited);
            }
        }
        if ("LORA".equals(expected.get("peft_type").asText())) {
            for (String key : new TreeSet<>(LORA_UNWRITTEN)) {
                JsonNode n = root.get(key);
                if (n != null && !n.isNull() && !(n.isBoolean() && !n.booleanValue()) && !(n.isContainerNode()
                        && n.isEmpty())) {
                    problems.add(where + key + " is " + n + " but the adapter was saved without it" + edited);
                }
            }
        }
        return problems;
    }

    /** Numbers equal by value (16 and 16.0), everything else by {@link JsonNode#equals}. */
    private static final java.util.Comparator<JsonNode> BY_VALUE = (a, b) -> {
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue());
        }
        return a.equals(b) ? 0 : 1;
    };

    /**
     * The adapter config tree ({@code name}, {@code method}, fields) of a folder PEFT wrote, or empty with the
     * reasons in {@code problems}.
     *
     * @param tensorKeys the names in the weights file (for a regex target_modules)
     */
    static Optional<ObjectNode> fromPeft(JsonNode root, String name, Set<String> tensorKeys, List<String> problems) {
        String where = AdapterFiles.CONFIG_FILE + ": ";
        JsonNode type = root.get("peft_type");
        if (type == null) {
            problems.add(where + "neither '" + AdapterFiles.OWN_KEY + "' (this framework's record) nor 'peft_type'"
                    + " (Hugging Face PEFT's) is present; this is not an adapter config");
            return Optional.empty();
        }
        return switch (type.asText()) {
            case "LORA" -> lora(root, name, tensorKeys, problems, where);
            case "PROMPT_TUNING" -> prompt(root, name, problems, where);
            case OWN_TYPE -> {
                problems.add(where + "peft_type " + OWN_TYPE + " needs the '" + AdapterFiles.OWN_KEY + "' record,"
                        + " which is missing");
                yield Optional.empty();
            }
            default -> {
                problems.add(where + "peft_type '" + type.asText() + "' is not supported; loadable: LORA,"
                        + " PROMPT_TUNING (and this framework's own " + OWN_TYPE + " folders)");
                yield Optional.empty();
            }
        };
    }

    private static Optional<ObjectNode> lora(JsonNode root, String name, Set<String> tensorKeys,
                                             List<String> problems, String where) {
        int before = problems.size();
        refuseIf(root, "fan_in_fan_out", n -> n.asBoolean(false), "the weights are nn.Linear (out, in); transposed"
                + " (Conv1D) LoRA factors are not supported", problems, where);
        refuseIf(root, "bias", n -> !n.isNull() && !n.asText().equals("none"), "trained biases are not part of a"
                + " LoRA adapter here; expected \"none\"", problems, where);
        refuseIf(root, "lora_bias", n -> n.asBoolean(false), "a bias on lora_B is not supported here", problems,
                where);
        refuseIf(root, "modules_to_save", n -> !n.isNull() && !n.isEmpty(), "fully trained modules are not part"
                + " of an adapter here", problems, where);
        refuseIf(root, "rank_pattern", n -> !n.isNull() && !n.isEmpty(), "one rank for all targets is supported,"
                + " not a rank per module", problems, where);
        refuseIf(root, "alpha_pattern", n -> !n.isNull() && !n.isEmpty(), "one alpha for all targets is"
                + " supported, not an alpha per module", problems, where);
        refuseIf(root, "layer_replication", n -> !n.isNull(), "layer replication is not supported", problems,
                where);
        refuseIf(root, "target_parameters", n -> !n.isNull() && !n.isEmpty(), "LoRA on parameters (not modules)"
                + " is not supported", problems, where);
        refuseIf(root, "trainable_token_indices", n -> !n.isNull(), "trainable tokens are not supported",
                problems, where);
        refuseIf(root, "use_qalora", n -> n.asBoolean(false), "QALoRA is not supported", problems, where);

        JsonNode r = root.get("r");
        if (r == null || !r.canConvertToInt() || !r.isIntegralNumber()) {
            problems.add(where + "'r': expected the LoRA rank (an integer), found " + r);
        }
        EnumSet<Projection> targets = EnumSet.noneOf(Projection.class);
        Set<Integer> keyLayers = new TreeSet<>();
        JsonNode tm = root.get("target_modules");
        if (tm != null && tm.isArray()) {
            for (JsonNode m : tm) {
                String module = m.asText();
                String last = module.substring(module.lastIndexOf('.') + 1);
                Projection p = MODULES.get(last);
                if (p == null) {
                    problems.add(where + "target_modules: '" + module + "' has no LoRA here; supported modules: "
                            + "in_proj, x_proj, dt_proj, out_proj, lm_head");
                } else {
                    targets.add(p);
                }
            }
        } else if (tm != null && tm.isTextual()) {
            // PEFT matches a string as a regex against module paths; the tensors say what it matched
            for (String k : tensorKeys) {
                Matcher mm = LORA_KEY.matcher(k);
                if (mm.matches()) {
                    Projection p = MODULES.get(mm.group(3) != null ? mm.group(3) : mm.group(2));
                    if (p != null) {
                        targets.add(p);
                    }
                    if (mm.group(1) != null) {
                        keyLayers.add(Integer.parseInt(mm.group(1)));
                    }
                }
            }
            if (targets.isEmpty()) {
                problems.add(where + "target_modules: the pattern \"" + tm.asText() + "\" matched no LoRA tensor"
                        + " of a supported module in " + AdapterFiles.WEIGHTS_FILE);
            }
        } else {
            problems.add(where + "target_modules: expected a list of module names or a pattern, found " + tm);
        }
        JsonNode layersNode = layers(root.get("layers_to_transform"), tm != null && tm.isTextual() ? keyLayers
                : Set.of(), problems, where);
        if (problems.size() > before) {
            return Optional.empty();
        }
        ObjectNode out = F.objectNode();
        out.put("name", name);
        out.put("method", "lora");
        out.set("layers", layersNode);
        out.put("rank", r.intValue());
        out.set("alpha", root.has("lora_alpha") ? root.get("lora_alpha") : F.numberNode(8));
        out.set("dropout", root.has("lora_dropout") ? root.get("lora_dropout") : F.numberNode(0.0));
        ArrayNode ts = out.putArray("targets");
        targets.forEach(p -> ts.add(p.configName()));
        out.put("use_rslora", root.path("use_rslora").asBoolean(false));
        out.put("use_dora", root.path("use_dora").asBoolean(false));
        // PEFT's pissa_niter_K is its fast, approximate SVD of the same factors; any other start (true, gaussian)
        // leaves the base weight alone, and only A and B, read from the file, matter
        String init = root.path("init_lora_weights").asText("");
        if (init.equals("pissa") || init.startsWith("pissa_niter_")) {
            out.put("init_lora_weights", "pissa");
        }
        return Optional.of(out);
    }

    private static JsonNode layers(JsonNode n, Set<Integer> fromKeys, List<String> problems, String where) {
        if (n == null || n.isNull()) {
            if (fromKeys.isEmpty()) {
                return F.textNode("all");
            }
            ArrayNode a = F.arrayNode();
            fromKeys.forEach(a::add);
            return a;
        }
        if (n.isInt()) {
            return F.arrayNode().add(n.intValue());
        }
        if (n.isArray()) {
            List<Integer> ls = new ArrayList<>();
            for (JsonNode e : n) {
                if (!e.isInt()) {
                    problems.add(where + "layers_to_transform: expected layer indices, found " + n);
                    return F.textNode("all");
                }
                ls.add(e.intValue());
            }
            ArrayNode a = F.arrayNode();
            ls.forEach(a::add);
            return a;
        }
        problems.add(where + "layers_to_transform: expected null, an index or a list of indices, found " + n);
        return F.textNode("all");
    }

    private static Optional<ObjectNode> prompt(JsonNode root, String name, List<String> problems, String where) {
        JsonNode n = root.get("num_virtual_tokens");
        int before = problems.size();
        if (n == null || !n.isInt()) {
            problems.add(where + "'num_virtual_tokens': expected an integer, found " + n);
        }
        JsonNode sub = root.get("num_transformer_submodules");
        if (sub != null && !sub.isNull() && sub.asInt() != 1) {
            problems.add(where + "'num_transformer_submodules' = " + sub + ": a decoder-only model has one; expected"
                    + " 1");
        }
        if (problems.size() > before) {
            return Optional.empty();
        }
        ObjectNode out = F.objectNode();
        out.put("name", name);
        out.put("method", "prompt");
        out.put("num_virtual_tokens", n.intValue());
        return Optional.of(out);
    }

    private static void refuseIf(JsonNode root, String key, java.util.function.Predicate<JsonNode> bad, String why,
                                 List<String> problems, String where) {
        JsonNode n = root.get(key);
        if (n != null && bad.test(n)) {
            problems.add(where + "'" + key + "' = " + n + ": " + why);
        }
    }
}
