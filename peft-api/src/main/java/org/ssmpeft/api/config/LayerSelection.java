package org.ssmpeft.api.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which layers an adapter acts on: all of them, or a set given as a list of indices and inclusive ranges.
 *
 * <p>Spelled in configs as {@code "all"}, a number {@code 3}, a list {@code [0, 1, "4-7"]} or a string
 * {@code "0-3, 8"}. Indices are checked against the model when the adapter is created.
 */
public sealed interface LayerSelection {

    LayerSelection ALL = new All();

    /** No SSM has this many layers; the bound keeps a typo like "0-99999999" from allocating a huge set. */
    int MAX_LAYER = 1 << 16;

    /** All layers of the model. */
    record All() implements LayerSelection {
        @Override
        public int[] resolve(int layerCount) {
            return java.util.stream.IntStream.range(0, layerCount).toArray();
        }

        @Override
        public Optional<String> outOfRange(int layerCount) {
            return Optional.empty();
        }

        @Override
        public JsonNode toJson() {
            return JsonNodeFactory.instance.textNode("all");
        }
    }

    /** A set of layer indices (a BitSet keeps them sorted and unique). */
    record Some(BitSet layers) implements LayerSelection {
        public Some {
            layers = (BitSet) layers.clone();
        }

        @Override
        public BitSet layers() {
            return (BitSet) layers.clone();
        }

        @Override
        public int[] resolve(int layerCount) {
            outOfRange(layerCount).ifPresent(m -> {
                throw new IllegalArgumentException(m);
            });
            return layers.stream().toArray();
        }

        @Override
        public Optional<String> outOfRange(int layerCount) {
            int max = layers.length() - 1;
            if (max >= layerCount) {
                return Optional.of("layer " + max + " does not exist; the model has " + layerCount + " layers (0-"
                        + (layerCount - 1) + ")");
            }
            return Optional.empty();
        }

        /** Compact form: consecutive runs become ranges. */
        @Override
        public JsonNode toJson() {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            int i = layers.nextSetBit(0);
            while (i >= 0) {
                int end = layers.nextClearBit(i) - 1;
                if (end == i) {
                    out.add(i);
                } else {
                    out.add(i + "-" + end);
                }
                i = layers.nextSetBit(end + 1);
            }
            return out;
        }
    }

    /** The selected layer indices, ascending; fails when one is not below {@code layerCount}. */
    int[] resolve(int layerCount);

    /** A message when a selected layer does not exist in a model of {@code layerCount} layers. */
    Optional<String> outOfRange(int layerCount);

    JsonNode toJson();

    static LayerSelection of(int... layers) {
        BitSet b = new BitSet();
        for (int l : layers) {
            if (l < 0) {
                throw new IllegalArgumentException("layer index must be >= 0, found " + l);
            }
            b.set(l);
        }
        return new Some(b);
    }

    /** Parses the config spelling; problems go to {@code problems} with {@code path}. */
    static Optional<LayerSelection> parse(JsonNode node, String path, List<ConfigProblem> problems) {
        if (node.isTextual() && node.asText().trim().equalsIgnoreCase("all")) {
            return Optional.of(ALL);
        }
        BitSet layers = new BitSet();
        int before = problems.size();
        List<JsonNode> items = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(items::add);
        } else if (node.isTextual()) {
            for (String part : node.asText().split(",")) {
                items.add(JsonNodeFactory.instance.textNode(part.trim()));
            }
        } else {
            items.add(node);
        }
        for (int i = 0; i < items.size(); i++) {
            String at = node.isArray() ? path + "[" + i + "]" : path;
            addItem(items.get(i), at, layers, problems);
        }
        if (items.isEmpty() || (problems.size() == before && layers.isEmpty())) {
            problems.add(new ConfigProblem(path, "expected \"all\" or at least one layer, found an empty selection"));
        }
        return problems.size() > before ? Optional.empty() : Optional.of(new Some(layers));
    }

    private static void addItem(JsonNode item, String path, BitSet layers, List<ConfigProblem> problems) {
        Pattern range = Pattern.compile("(\\d+)\\s*-\\s*(\\d+)");
        if (item.isIntegralNumber()) {
            // canConvertToInt first: asLong() wraps a number beyond 64 bits (2^64 would read as layer 0)
            if (!item.canConvertToInt() || item.intValue() < 0 || item.intValue() >= MAX_LAYER) {
                problems.add(new ConfigProblem(path, "expected a layer index in [0, " + (MAX_LAYER - 1) + "], found " + item));
            } else {
                layers.set(item.intValue());
            }
            return;
        }
        if (item.isTextual()) {
            String s = item.asText().trim();
            Matcher m = range.matcher(s);
            try {
                if (s.matches("\\d+") && Integer.parseInt(s) < MAX_LAYER) {
                    layers.set(Integer.parseInt(s));
                    return;
                }
                if (m.matches()) {
                    int lo = Integer.parseInt(m.group(1));
                    int hi = Integer.parseInt(m.group(2));
                    if (hi >= MAX_LAYER) {
                        problems.add(new ConfigProblem(path, "expected layer indices below " + MAX_LAYER + ", found \"" + s + "\""));
                    } else if (lo > hi) {
                        problems.add(new ConfigProblem(path, "layer range \"" + s + "\" is empty: expected start <= end"));
                    } else {
                        layers.set(lo, hi + 1);
                    }
                    return;
                }
            } catch (NumberFormatException tooLarge) {
                // falls through to the general message
            }
        }
        problems.add(new ConfigProblem(path, "expected \"all\", a layer index or a range like \"4-7\", found "
                + ConfigBinder.describe(item)));
    }
}
