package org.ssmpeft.runtime.parity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.parity.ParityLine.Tolerance;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.HostState;
import org.ssmpeft.runtime.backend.SsmState;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * Checks a model against the reference tensors of a fixture folder laid out as {@code ../shared/fixtures/mamba-tiny}:
 * <ul>
 *   <li>{@code reference.safetensors}: {@code input_ids} (B, T); {@code logits}; {@code step_logits} (tokens fed one
 *       at a time through the cache); {@code ssm_state.layers.i} and {@code conv_state.layers.i} after the forward;
 *       {@code hidden_states.j} (after each block, then after norm_f); {@code loss} (labels = input_ids).</li>
 *   <li>{@code peft-grads.safetensors}: per adapter kind ({@code state_offset_h}, {@code state_offset_y},
 *       {@code initial_state}, {@code lora}, {@code prompt_tuning}) its tensor values, their {@code .grad}, and the
 *       {@code logits} and {@code loss} with the adapter acting. Adapters are built through the installed methods
 *       (found by name, never by class) and given the fixture's values.</li>
 *   <li>{@code full-ft-grads.safetensors}: {@code <weight>.grad} for base weights and the {@code loss}.</li>
 * </ul>
 * Values are held to 1e-5 absolute, gradients to 1e-4 relative (max-abs error over max-abs reference): what a float32
 * re-implementation achieves (the fixtures' own self-checks differ by about 2e-6).
 */
public final class FixtureParity {

    public static final String REFERENCE = "reference.safetensors";
    public static final String PEFT_GRADS = "peft-grads.safetensors";
    public static final String FULL_FT_GRADS = "full-ft-grads.safetensors";

    private static final Pattern LORA_TENSOR = Pattern.compile("layers\\.(\\d+)\\.(\\w+)\\.lora_[AB]|head\\.lora_[AB]");
    private static final Pattern MANIFEST_ALPHA = Pattern.compile("alpha\\s*=\\s*([0-9.]+)");

    private final SsmModel model;
    private final Path dir;
    private final AdapterFactory factory;
    private final Optional<Double> loraAlpha;

    /**
     * @param loraAlpha LoRA's alpha for {@code lora} fixtures (the tensors hold r but not alpha); when empty it is
     *                  read from the fixture's {@code manifest.json}
     */
    public FixtureParity(SsmModel model, Path dir, AdapterFactory factory, Optional<Double> loraAlpha) {
        this.model = model;
        this.dir = dir;
        this.factory = factory;
        this.loraAlpha = loraAlpha;
    }

    /** Every check the folder's files allow, in file order; fails when the folder has no reference file at all. */
    public List<ParityLine> run() throws IOException {
        List<ParityLine> lines = new ArrayList<>();
        boolean any = false;
        if (Files.exists(dir.resolve(REFERENCE))) {
            any = true;
            try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve(REFERENCE))) {
                reference(ref, lines);
            }
        }
        int[][] ids = null;
        if (Files.exists(dir.resolve(PEFT_GRADS)) || Files.exists(dir.resolve(FULL_FT_GRADS))) {
            ids = inputIds();
        }
        if (Files.exists(dir.resolve(PEFT_GRADS))) {
            any = true;
            try (SafetensorsFile grads = SafetensorsFile.open(dir.resolve(PEFT_GRADS))) {
                adapters(grads, ids, lines);
            }
        }
        if (Files.exists(dir.resolve(FULL_FT_GRADS))) {
            any = true;
            try (SafetensorsFile grads = SafetensorsFile.open(dir.resolve(FULL_FT_GRADS))) {
                fullFineTuning(grads, ids, lines);
            }
        }
        if (!any) {
            throw new IOException(dir + " has none of " + REFERENCE + ", " + PEFT_GRADS + ", " + FULL_FT_GRADS);
        }
        return lines;
    }

    private int[][] inputIds() throws IOException {
        Path ref = dir.resolve(REFERENCE);
        if (!Files.exists(ref)) {
            throw new IOException("gradients need input_ids from " + ref + ", which does not exist");
        }
        try (SafetensorsFile f = SafetensorsFile.open(ref)) {
            return inputIds(f);
        }
    }

    private static int[][] inputIds(SafetensorsFile f) throws IOException {
        long[] shape = f.info("input_ids").shape();
        if (shape.length != 2) {
            throw new IOException("input_ids: expected shape (B, T), found " + Arrays.toString(shape));
        }
        int[] flat = f.readInts("input_ids");
        int b = (int) shape[0];
        int t = (int) shape[1];
        int[][] ids = new int[b][t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(flat, i * t, ids[i], 0, t);
        }
        return ids;
    }

    private void reference(SafetensorsFile ref, List<ParityLine> lines) throws IOException {
        int[][] ids = inputIds(ref);
        Set<String> names = new TreeSet<>(ref.names());
        SsmState cache = model.newState(ids.length);
        float[] logits = model.forward(ids, model.noAdapters(), cache).values();
        HostState after = cache.export();
        if (names.contains("logits")) {
            lines.add(ParityLine.compare("logits", logits, ref.readFloats("logits"), Tolerance.VALUES));
        }
        for (int layer = 0; layer < model.shape().layers(); layer++) {
            for (String kind : List.of("ssm_state", "conv_state")) {
                String name = kind + ".layers." + layer;
                if (names.contains(name)) {
                    float[] actual = kind.equals("ssm_state") ? after.ssmState(layer) : after.convState(layer);
                    lines.add(ParityLine.compare(name, actual, ref.readFloats(name), Tolerance.VALUES));
                }
            }
        }
        if (names.stream().anyMatch(n -> n.startsWith("hidden_states."))) {
            List<float[]> hidden = model.hiddenStates(ids, model.noAdapters());
            for (int j = 0; j < hidden.size(); j++) {
                String name = "hidden_states." + j;
                if (names.contains(name)) {
                    lines.add(ParityLine.compare(name, hidden.get(j), ref.readFloats(name), Tolerance.VALUES));
                }
            }
        }
        if (names.contains("step_logits")) {
            lines.add(ParityLine.compare("step_logits", stepLogits(ids), ref.readFloats("step_logits"),
                    Tolerance.VALUES));
        }
        if (names.contains("loss")) {
            float loss = (float) model.loss(ids, ids, model.noAdapters());
            lines.add(ParityLine.compare("loss", new float[] {loss}, ref.readFloats("loss"), Tolerance.VALUES));
        }
    }

    /** Logits (B, T, V) from feeding the tokens one position at a time through one cache. */
    private float[] stepLogits(int[][] ids) {
        int b = ids.length;
        int t = ids[0].length;
        int v = model.shape().vocab();
        float[] out = new float[b * t * v];
        SsmState cache = model.newState(b);
        for (int pos = 0; pos < t; pos++) {
            int[] column = new int[b];
            for (int i = 0; i < b; i++) {
                column[i] = ids[i][pos];
            }
            float[] step = model.step(column, model.noAdapters(), cache);
            for (int i = 0; i < b; i++) {
                System.arraycopy(step, i * v, out, (i * t + pos) * v, v);
            }
        }
        return out;
    }

    /** How a fixture adapter kind maps onto an installed method: its config and its tensors' names here. */
    private record Kind(String configJson, Map<String, String> renames) {
        String rename(String fixtureTensor) {
            for (var e : renames.entrySet()) {
                if (fixtureTensor.endsWith("." + e.getKey()) || fixtureTensor.equals(e.getKey())) {
                    return fixtureTensor.substring(0, fixtureTensor.length() - e.getKey().length()) + e.getValue();
                }
            }
            return fixtureTensor;
        }
    }

    private void adapters(SafetensorsFile grads, int[][] ids, List<ParityLine> lines) throws IOException {
        Map<String, List<String>> byKind = new TreeMap<>();
        for (String n : grads.names()) {
            int dot = n.indexOf('.');
            byKind.computeIfAbsent(dot < 0 ? n : n.substring(0, dot), k -> new ArrayList<>()).add(n);
        }
        for (var e : byKind.entrySet()) {
            String kind = e.getKey();
            List<String> tensors = e.getValue().stream().map(n -> n.substring(kind.length() + 1))
                    .filter(n -> !n.endsWith(".grad") && !n.equals("logits") && !n.equals("loss")).toList();
            Kind k;
            try {
                k = kind(kind, tensors, grads);
            } catch (IllegalArgumentException unknown) {
                lines.add(ParityLine.skip(kind, unknown.getMessage()));
                continue;
            }
            AdapterConfig config = factory.reader().parse(k.configJson(), ConfigFormat.JSON).getFirst();
            Adapter adapter = factory.create(new AdapterConfig(kind, config.method(), config.layers(), config.config()),
                    model.shape(), AdapterFactory.seeded(0));
            for (String t : tensors) {
                Tensor p = adapter.parameter(k.rename(t));
                float[] values = grads.readFloats(kind + "." + t);
                if (values.length != p.size()) {
                    throw new IOException(kind + "." + t + ": " + values.length + " values, but the adapter's "
                            + k.rename(t) + " has shape " + Tensor.format(p.shape()));
                }
                System.arraycopy(values, 0, p.data(), 0, values.length);
            }
            AdapterSet set = new AdapterSet(model.shape()).add(adapter);
            LossAndGradients r = model.lossAndGradients(ids, ids, set, Set.of());
            if (grads.find(kind + ".logits").isPresent()) {
                lines.add(ParityLine.compare(kind + ".logits", r.logits().values(),
                        grads.readFloats(kind + ".logits"), Tolerance.VALUES));
            }
            if (grads.find(kind + ".loss").isPresent()) {
                lines.add(ParityLine.compare(kind + ".loss", new float[] {(float) r.loss()},
                        grads.readFloats(kind + ".loss"), Tolerance.VALUES));
            }
            for (String t : tensors) {
                String ref = kind + "." + t + ".grad";
                if (grads.find(ref).isPresent()) {
                    lines.add(ParityLine.compare(ref, r.adapterGradient(kind, k.rename(t)).data(),
                            grads.readFloats(ref), Tolerance.GRADIENTS));
                }
            }
        }
    }

    private Kind kind(String kind, List<String> tensors, SafetensorsFile grads) throws IOException {
        String layers = "\"layers\": " + layersOf(tensors);
        return switch (kind) {
            case "state_offset_h" -> new Kind("{\"method\": \"state-offset\", \"variant\": \"h\", " + layers + "}",
                    Map.of("h_off", "state_offset"));
            case "state_offset_y" -> new Kind("{\"method\": \"state-offset\", \"variant\": \"y\", " + layers + "}",
                    Map.of("y_off", "output_offset"));
            case "initial_state" -> new Kind("{\"method\": \"initial-state\", " + layers + "}",
                    Map.of("h0", "initial_state"));
            case "prompt_tuning" -> new Kind("{\"method\": \"prompt\", \"num_virtual_tokens\": "
                    + grads.info("prompt_tuning.virtual_embeddings").shape()[0] + "}",
                    Map.of("virtual_embeddings", "prompt_embeddings"));
            case "lora" -> lora(tensors, grads, layers);
            default -> throw new IllegalArgumentException("unknown adapter kind '" + kind + "' (known: state_offset_h,"
                    + " state_offset_y, initial_state, lora, prompt_tuning); not checked");
        };
    }

    private Kind lora(List<String> tensors, SafetensorsFile grads, String layers) throws IOException {
        Set<String> targets = new TreeSet<>();
        long rank = -1;
        for (String t : tensors) {
            Matcher m = LORA_TENSOR.matcher(t);
            if (!m.matches()) {
                throw new IllegalArgumentException("lora tensor '" + t + "' is not layers.<i>.<module>.lora_A|B");
            }
            targets.add(m.group(2) == null ? "head" : m.group(2));
            if (t.endsWith("lora_A")) {
                rank = grads.info("lora." + t).shape()[0];
            }
        }
        double alpha = loraAlpha.isPresent() ? loraAlpha.get() : manifestAlpha();
        String list = targets.stream().map(s -> "\"" + s + "\"").collect(Collectors.joining(", ", "[", "]"));
        return new Kind("{\"method\": \"lora\", \"rank\": " + rank + ", \"alpha\": " + alpha + ", \"targets\": " + list
                + ", " + layers + "}", Map.of());
    }

    /** LoRA's alpha from the fixture manifest's description of its lora adapter ("... alpha = 8 ..."). */
    private double manifestAlpha() throws IOException {
        Path manifest = dir.resolve("manifest.json");
        if (Files.exists(manifest)) {
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(manifest.toFile())
                    .path("adapters").path("lora");
            Matcher m = MANIFEST_ALPHA.matcher(node.asText());
            if (m.find()) {
                return Double.parseDouble(m.group(1));
            }
        }
        throw new IOException("LoRA fixture: alpha is not in the tensors and not found in " + manifest
                + "; give it with --lora-alpha");
    }

    /** The layers a fixture adapter has tensors for, as a config layer list. */
    private static String layersOf(List<String> tensors) {
        Set<Integer> layers = new TreeSet<>();
        Pattern p = Pattern.compile("layers\\.(\\d+)\\..*");
        for (String t : tensors) {
            Matcher m = p.matcher(t);
            if (m.matches()) {
                layers.add(Integer.parseInt(m.group(1)));
            }
        }
        return layers.isEmpty() ? "\"all\"" : layers.toString();
    }

    private void fullFineTuning(SafetensorsFile grads, int[][] ids, List<ParityLine> lines) throws IOException {
        Map<String, String> refByWeight = new LinkedHashMap<>();
        for (String n : grads.names()) {
            if (n.endsWith(".grad")) {
                refByWeight.put(n.substring(0, n.length() - ".grad".length()), n);
            }
        }
        LossAndGradients r;
        try {
            r = model.lossAndGradients(ids, ids, model.noAdapters(), refByWeight.keySet());
        } catch (IllegalArgumentException e) {
            lines.add(ParityLine.fail("full fine-tuning", e.getMessage()));
            return;
        }
        if (grads.find("loss").isPresent()) {
            lines.add(ParityLine.compare("full-ft.loss", new float[] {(float) r.loss()}, grads.readFloats("loss"),
                    Tolerance.VALUES));
        }
        for (var e : refByWeight.entrySet()) {
            Tensor g = r.baseGradients().get(e.getKey());
            lines.add(g == null ? ParityLine.fail(e.getValue(), "the backend returned no gradient for " + e.getKey())
                    : ParityLine.compare(e.getValue(), g.data(), grads.readFloats(e.getValue()), Tolerance.GRADIENTS));
        }
    }
}
