package org.ssmpeft.runtime.djl;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.prefix.PrefixConfig;
import org.ssmpeft.prefix.PromptConfig;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.Mamba2Config;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.stateoffset.AdditionalScanConfig;
import org.ssmpeft.stateoffset.InitialStateConfig;
import org.ssmpeft.stateoffset.StateInit;
import org.ssmpeft.stateoffset.StateOffsetConfig;

/**
 * One seeded random parity case: a Mamba-1 shape (1-3 layers, d_model 4-24, D = expand·d_model or any 4-32,
 * N 1-8, R 1-4, K 2-4, vocab 5-64, tied or untied head, linear and conv biases on or off) with random weights, random
 * tokens and labels (some ignored), an adapter set of built-in methods made by their providers through
 * {@link PeftMethods#load()} and {@link AdapterFactory} on all or some layers with random values, and a random set of
 * trainable base parameters.
 *
 * @param description one line naming the shape, the adapters and the trainable base parameters
 */
record RandomCase(long seed, LanguageModelWeights<?> weights, int[][] tokens, int[][] labels, AdapterSet adapters,
                  Set<String> trainable, String description) {

    /** The built-in adapter kinds a case can hold; {@code forced} puts one of them in for sure. */
    enum Kind { OFFSET_H, OFFSET_Y, INITIAL_STATE, PROMPT, PREFIX, PREFIX_MLP, LORA_WHOLE, LORA_BLOCKS_AND_HEAD,
        ADDITIONAL_SCAN }

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    static RandomCase of(long seed, Set<Kind> forced) {
        var rng = new Random(seed);
        MambaConfig c = config(rng);
        MambaWeights w = RandomModels.weights(c, rng, 0.8);

        int batch = 1 + rng.nextInt(3);
        int len = 1 + rng.nextInt(9);
        int[][] tokens = new int[batch][len];
        int[][] labels = new int[batch][len];
        draw(tokens, labels, c.vocabSize(), rng);

        Set<Kind> kinds = new LinkedHashSet<>(forced);
        for (Kind k : Kind.values()) {
            if (rng.nextInt(3) == 0) {
                kinds.add(k);
            }
        }
        if (kinds.contains(Kind.PREFIX) && kinds.contains(Kind.PREFIX_MLP)) { // one input hook per placement
            kinds.remove(forced.contains(Kind.PREFIX) ? Kind.PREFIX_MLP : Kind.PREFIX);
        }
        AdapterSet set = new AdapterSet(c.toShape());
        List<String> names = new ArrayList<>();
        int i = addAdapters(kinds, c.toShape(), rng, seed, set, names);
        if (kinds.contains(Kind.OFFSET_H) && rng.nextBoolean()) { // a second h' adds up with the first
            Adapter a = adapter(Kind.OFFSET_H, "offset_h-extra", c.toShape(), rng, seed * 31 + i);
            set.add(a);
            names.add("offset_h-extra" + describe(a));
        }
        if (kinds.contains(Kind.ADDITIONAL_SCAN) && rng.nextBoolean()) { // a second extension concatenates
            Adapter a = adapter(Kind.ADDITIONAL_SCAN, "additional_scan-extra", c.toShape(), rng, seed * 31 + i + 1);
            set.add(a);
            names.add("additional_scan-extra" + describe(a));
        }

        Set<String> trainable = trainable(w, rng, 8);

        String shape = "layers %d, d %d, D %d, N %d, R %d, K %d, V %d, %s head, bias %s, conv bias %s; B %d, T %d"
                .formatted(c.layers(), c.dModel(), c.dInner(), c.dState(), c.dtRank(), c.convKernel(), c.vocabSize(),
                        c.tieWordEmbeddings() ? "tied" : "untied", c.useBias(), c.useConvBias(), batch, len);
        String description = "seed " + seed + ": " + shape + "; adapters " + names + "; base " + trainable;
        return new RandomCase(seed, w, tokens, labels, set, trainable, description);
    }

    // random tokens, and labels: one in five ignored, else the token itself or another one
    private static void draw(int[][] tokens, int[][] labels, int vocab, Random rng) {
        for (int b = 0; b < tokens.length; b++) {
            for (int t = 0; t < tokens[b].length; t++) {
                tokens[b][t] = rng.nextInt(vocab);
                labels[b][t] = rng.nextInt(5) == 0 ? SsmModel.IGNORE_INDEX
                        : rng.nextBoolean() ? tokens[b][t] : rng.nextInt(vocab);
            }
        }
    }

    // one adapter per kind into set, named kind-i; returns the next i
    private static int addAdapters(Set<Kind> kinds, ModelShape shape, Random rng, long seed, AdapterSet set,
                                   List<String> names) {
        int i = 0;
        for (Kind k : kinds) {
            String name = k.name().toLowerCase(java.util.Locale.ROOT) + "-" + i;
            Adapter a = adapter(k, name, shape, rng, seed * 31 + i++);
            set.add(a);
            names.add(name + describe(a));
        }
        return i;
    }

    // a few base parameters by name, or (one time in allOdds) all of them
    private static Set<String> trainable(LanguageModelWeights<?> w, Random rng, int allOdds) {
        List<String> all = new ArrayList<>(w.parameters().keySet());
        Set<String> trainable = new TreeSet<>();
        int count = rng.nextInt(allOdds) == 0 ? all.size() : rng.nextInt(4);
        for (int j = 0; j < count; j++) {
            trainable.add(all.get(rng.nextInt(all.size())));
        }
        return trainable;
    }

    private static String describe(Adapter a) {
        return a.config() instanceof LoraConfig l ? " " + l.targets()
                : a.config() instanceof AdditionalScanConfig s ? " n'=" + s.nExtra() + " " + s.aInit().configName()
                : "";
    }

    private static MambaConfig config(Random rng) {
        int layers = 1 + rng.nextInt(3);
        int dModel = 4 + rng.nextInt(21);
        int expand = 1 + rng.nextInt(2);
        int dInner = rng.nextInt(4) == 0 ? 4 + rng.nextInt(29) : expand * dModel;
        int dState = 1 + rng.nextInt(8);
        int dtRank = 1 + rng.nextInt(4);
        int convKernel = 2 + rng.nextInt(3);
        int vocab = 5 + rng.nextInt(60);
        return new MambaConfig(vocab, dModel, dState, layers, 1e-5, OptionalInt.empty(), OptionalInt.empty(),
                OptionalInt.empty(), expand, dInner, convKernel, rng.nextBoolean(), rng.nextInt(4) != 0, "silu", 0.1,
                true, dtRank, 1.0, 0.001, 0.1, "random", 1e-4, false, true, rng.nextBoolean());
    }

    private static Adapter adapter(Kind kind, String name, ModelShape shape, Random rng, long seed) {
        Record config = switch (kind) {
            case OFFSET_H -> new StateOffsetConfig(StateOffsetConfig.Variant.H, StateInit.ZERO);
            case OFFSET_Y -> new StateOffsetConfig(StateOffsetConfig.Variant.Y, StateInit.ZERO);
            case INITIAL_STATE -> new InitialStateConfig(StateInit.ZERO);
            case PROMPT -> new PromptConfig(1 + rng.nextInt(4), 0.5);
            case PREFIX -> new PrefixConfig(1 + rng.nextInt(4), false, 4, 0.5);
            case PREFIX_MLP -> new PrefixConfig(1 + rng.nextInt(4), true, 2 + rng.nextInt(7), 0.5);
            case LORA_WHOLE -> lora(rng, shape.family() == ModelFamily.MAMBA2 ? mamba2Targets(rng) : wholeTargets(rng));
            case LORA_BLOCKS_AND_HEAD -> lora(rng, blockTargets(rng));
            case ADDITIONAL_SCAN -> new AdditionalScanConfig(1 + rng.nextInt(4),
                    AdditionalScanConfig.AInit.values()[rng.nextInt(2)]);
        };
        String method = switch (kind) {
            case OFFSET_H, OFFSET_Y -> "state-offset";
            case INITIAL_STATE -> "initial-state";
            case PROMPT -> "prompt";
            case PREFIX, PREFIX_MLP -> "prefix";
            case LORA_WHOLE, LORA_BLOCKS_AND_HEAD -> "lora";
            case ADDITIONAL_SCAN -> "additional-scan";
        };
        Adapter a = FACTORY.create(new AdapterConfig(name, method, layers(shape.layers(), rng), config), shape,
                AdapterFactory.seeded(seed));
        // random values everywhere, so zero-initialised parameters (offsets, LoRA B) act too; an additional-scan keeps
        // its a' init at times, so its reference start (A' = -e^N: the new states forget at once) is compared too
        var values = new Random(seed);
        double std = kind == Kind.PROMPT ? 1.0 : 0.3;
        boolean keepDecayInit = kind == Kind.ADDITIONAL_SCAN && rng.nextBoolean();
        for (var e : a.parameters().entrySet()) {
            if (keepDecayInit && e.getKey().endsWith(".a_extra")) {
                continue;
            }
            randomize(e.getValue().data(), std, values);
        }
        return a;
    }

    private static void randomize(float[] d, double std, Random values) {
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (std * values.nextGaussian());
        }
    }

    /**
     * A random Mamba-2 model (D = 2d, head_dim 2 or 4, G 1 or 2, biases, tied or untied, the norm over D or D/G, no
     * clamp or a finite one, a chunk that rarely divides the length) with 1 to 3 of the built-in adapters that map
     * onto Mamba-2 (offsets, initial state, prompt, prefix with or without MLP, LoRA on in_proj or its blocks, out_proj, head, bitfit,
     * partial-ft on A_log, D and dt_bias, additional-scan per head) and random trainable base parameters.
     */
    static RandomCase mamba2(long seed) {
        var rng = new Random(seed);
        int dm = 2 * (2 + rng.nextInt(4));
        int headDim = rng.nextBoolean() ? 2 : 4;
        int heads = 2 * dm / headDim;
        int groups = heads % 2 == 0 && rng.nextBoolean() ? 2 : 1;
        double[][] limits = {{0.0, Double.POSITIVE_INFINITY}, {0.02, 0.2}, {0.0, 0.1}};
        double[] limit = limits[rng.nextInt(limits.length)];
        int normGroup = rng.nextBoolean() ? 2 * dm : 2 * dm / groups;
        var c = new Mamba2Config(11 + rng.nextInt(20), dm, 2 + rng.nextInt(4), 1 + rng.nextInt(2), 1e-5,
                OptionalInt.empty(), OptionalInt.empty(), OptionalInt.empty(), 2, heads, headDim, groups,
                2 + rng.nextInt(3), 2 + rng.nextInt(4), rng.nextBoolean(), rng.nextBoolean(), true, limit[0], limit[1],
                0.001, 0.1, 1e-4, 1, normGroup, 0.1, rng.nextBoolean());
        Mamba2Weights w = RandomModels.mamba2Weights(c, rng);
        int batch = 1 + rng.nextInt(2);
        int len = 1 + rng.nextInt(9);
        int[][] tokens = new int[batch][len];
        int[][] labels = new int[batch][len];
        draw(tokens, labels, c.vocabSize(), rng);
        List<Kind> mapped = List.of(Kind.OFFSET_H, Kind.OFFSET_Y, Kind.INITIAL_STATE, Kind.PROMPT, Kind.PREFIX,
                Kind.PREFIX_MLP, Kind.LORA_WHOLE, Kind.ADDITIONAL_SCAN);
        Set<Kind> kinds = new LinkedHashSet<>();
        kinds.add(mapped.get(Math.floorMod(seed, mapped.size())));
        for (int j = rng.nextInt(3); j > 0; j--) {
            kinds.add(mapped.get(rng.nextInt(mapped.size())));
        }
        if (kinds.contains(Kind.PREFIX) && kinds.contains(Kind.PREFIX_MLP)) { // one input hook per placement
            kinds.remove(Kind.PREFIX_MLP);
        }
        AdapterSet set = new AdapterSet(c.toShape());
        List<String> names = new ArrayList<>();
        addAdapters(kinds, c.toShape(), rng, seed, set, names);
        if (rng.nextInt(3) == 0 && c.useConvBias()) { // parameter deltas on bitfit's default biases (conv1d's too)
            AdapterConfig parsed = FACTORY.reader().parse("method: bitfit\n", ConfigFormat.YAML).getFirst();
            Adapter a = FACTORY.create(new AdapterConfig("bitfit", parsed.method(), parsed.layers(), parsed.config()),
                    c.toShape(), AdapterFactory.seeded(seed));
            a.parameters().values().forEach(t -> randomize(t.data(), 0.1, new Random(seed + 5)));
            set.add(a);
            names.add("bitfit");
        }
        if (Math.floorMod(seed, 3) == 2) { // partial-ft's A/D tuning with dt_bias, drawn apart from rng's stream
            AdapterConfig parsed = FACTORY.reader().parse("method: partial-ft\nlayer_parameters: [A_log, D, dt_bias]\n",
                    ConfigFormat.YAML).getFirst();
            Adapter a = FACTORY.create(new AdapterConfig("partial-ft", parsed.method(), parsed.layers(),
                    parsed.config()), c.toShape(), AdapterFactory.seeded(seed));
            a.parameters().values().forEach(t -> randomize(t.data(), 0.1, new Random(seed + 7)));
            set.add(a);
            names.add("partial-ft");
        }
        Set<String> trainable = trainable(w, rng, 6);
        String shape = ("mamba2 layers %d, d %d, H %d x P %d, G %d, N %d, K %d, chunk %d, V %d, %s head, bias %s,"
                + " conv bias %s, norm group %d, dt limit [%s, %s]; B %d, T %d").formatted(c.layers(), dm, heads,
                headDim, groups, c.dState(), c.convKernel(), c.chunkSize(), c.vocabSize(),
                c.tieWordEmbeddings() ? "tied" : "untied", c.useBias(), c.useConvBias(), normGroup, limit[0],
                limit[1], batch, len);
        String description = "seed " + seed + ": " + shape + "; adapters " + names + "; base " + trainable;
        return new RandomCase(seed, w, tokens, labels, set, trainable, description);
    }

    private static LayerSelection layers(int layers, Random rng) {
        if (layers == 1 || rng.nextBoolean()) {
            return LayerSelection.ALL;
        }
        List<Integer> some = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            if (rng.nextBoolean()) {
                some.add(l);
            }
        }
        if (some.isEmpty()) {
            some.add(rng.nextInt(layers));
        }
        return LayerSelection.of(some.stream().mapToInt(Integer::intValue).toArray());
    }

    private static LoraConfig lora(Random rng, List<Projection> targets) {
        return new LoraConfig(1 + rng.nextInt(4), 1 + rng.nextInt(8), 0.0, targets, rng.nextBoolean());
    }

    /** Whole projections: a non-empty subset of in_proj, x_proj, dt_proj, out_proj. */
    private static List<Projection> wholeTargets(Random rng) {
        List<Projection> t = new ArrayList<>();
        for (Projection p : List.of(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ, Projection.OUT_PROJ)) {
            if (rng.nextBoolean()) {
                t.add(p);
            }
        }
        if (t.isEmpty()) {
            t.add(Projection.IN_PROJ);
        }
        return t;
    }

    /**
     * Mamba-2's projections: a non-empty subset of in_proj, out_proj and the head, or of in_proj's z, x, B, C and dt
     * blocks with out_proj and the head.
     */
    private static List<Projection> mamba2Targets(Random rng) {
        List<Projection> t = new ArrayList<>();
        List<Projection> from = rng.nextBoolean() ? List.of(Projection.IN_PROJ, Projection.OUT_PROJ, Projection.HEAD)
                : List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X, Projection.IN_PROJ_B, Projection.IN_PROJ_C,
                        Projection.IN_PROJ_DT, Projection.OUT_PROJ, Projection.HEAD);
        for (Projection p : from) {
            if (rng.nextBoolean()) {
                t.add(p);
            }
        }
        if (t.isEmpty()) {
            t.add(Projection.IN_PROJ);
        }
        return t;
    }

    /** Row blocks of in_proj and x_proj, and the head: non-empty, always with one block. */
    private static List<Projection> blockTargets(Random rng) {
        List<Projection> t = new ArrayList<>();
        for (Projection p : List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_Z, Projection.X_PROJ_DT,
                Projection.X_PROJ_B, Projection.X_PROJ_C, Projection.HEAD)) {
            if (rng.nextBoolean()) {
                t.add(p);
            }
        }
        if (t.stream().noneMatch(Projection::isRowBlock)) {
            t.add(rng.nextBoolean() ? Projection.IN_PROJ_Z : Projection.X_PROJ_B);
        }
        return t;
    }

}
