package org.ssmpeft.runtime.checkpoint;

import org.ssmpeft.api.config.ConfigFiles;
import org.ssmpeft.api.config.ConfigFormat;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ssmpeft.runtime.io.AtomicFiles;
import org.ssmpeft.runtime.io.AtomicFolders;
import org.ssmpeft.runtime.io.HeapRoom;
import org.ssmpeft.runtime.safetensors.SafetensorsException;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;
import org.ssmpeft.runtime.safetensors.SafetensorsWriter;
import org.ssmpeft.runtime.safetensors.TensorInfo;

/**
 * Reads and writes Mamba-1 checkpoint directories in the Hugging Face layout: {@code config.json} plus
 * {@code model.safetensors}, or shards listed by {@code model.safetensors.index.json} ({@code weight_map}).
 *
 * <p>Reading accepts Hugging Face and state-spaces configs (see {@link MambaConfig}), the embedding under
 * {@code backbone.embeddings.weight} (HF) or {@code backbone.embedding.weight} (mamba_ssm), and F32, F16 or BF16
 * tensors (converted to float32). {@code lm_head.weight} may be absent when the config ties it. Every tensor the
 * config implies must be present with its exact shape; a tensor it does not imply is an error too, because a silently
 * ignored weight is a wrong model. A tensor holding NaN or ±Inf is refused, naming the file, the tensor and the first
 * bad element ({@link org.ssmpeft.runtime.safetensors.FiniteValues}).
 *
 * <p>Writing produces what transformers' {@code save_pretrained} would: HF config keys, HF tensor names, F32,
 * {@code __metadata__ {"format": "pt"}}, no lm_head when tied; each file replaced atomically.
 */
public final class MambaCheckpoint {

    public static final String CONFIG_FILE = "config.json";
    public static final String WEIGHTS_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    static final String EMBEDDING = "backbone.embeddings.weight";
    static final String EMBEDDING_STATE_SPACES = "backbone.embedding.weight";
    static final String NORM_F = "backbone.norm_f.weight";
    static final String LM_HEAD = "lm_head.weight";
    private static final Pattern LAYER_NAME = Pattern.compile("backbone\\.layers\\.(\\d+)\\.");

    private MambaCheckpoint() {
    }

    /** The name of a per-layer tensor, e.g. {@code layer(3, "mixer.A_log")}. */
    static String layer(int i, String suffix) {
        return "backbone.layers." + i + "." + suffix;
    }

    /** Loads config and weights from {@code dir}. */
    public static MambaWeights load(Path dir) throws CheckpointException {
        // the whole version a save interrupted between its two renames left (AtomicFolders); nothing is written
        dir = AtomicFolders.readable(dir).orElse(dir);
        MambaConfig config = MambaConfig.read(dir.resolve(CONFIG_FILE));
        try (var source = TensorSource.open(dir)) {
            return new Reader(dir, config, source).read();
        }
    }

    /** Writes {@code config.json} and {@code model.safetensors} (F32, HF names) into {@code dir}. */
    public static void save(MambaWeights w, Path dir) throws CheckpointException {
        MambaConfig c = w.config();
        long dm = c.dModel();
        long di = c.dInner();
        var out = new SafetensorsWriter().metadata("format", "pt");
        out.putF32(EMBEDDING, w.embedding(), c.vocabSize(), dm);
        for (int i = 0; i < c.layers(); i++) {
            LayerWeights l = w.layers().get(i);
            int li = i;
            out.putF32(layer(i, "norm.weight"), l.norm(), dm);
            out.putF32(layer(i, "mixer.in_proj.weight"), l.inProj(), 2 * di, dm);
            l.inProjBias().ifPresent(b -> out.putF32(layer(li, "mixer.in_proj.bias"), b, 2 * di));
            out.putF32(layer(i, "mixer.conv1d.weight"), l.convWeight(), di, 1, c.convKernel());
            l.convBias().ifPresent(b -> out.putF32(layer(li, "mixer.conv1d.bias"), b, di));
            out.putF32(layer(i, "mixer.x_proj.weight"), l.xProj(), c.dtRank() + 2L * c.dState(), di);
            out.putF32(layer(i, "mixer.dt_proj.weight"), l.dtProj(), di, c.dtRank());
            out.putF32(layer(i, "mixer.dt_proj.bias"), l.dtProjBias(), di);
            out.putF32(layer(i, "mixer.A_log"), l.aLog(), di, c.dState());
            out.putF32(layer(i, "mixer.D"), l.d(), di);
            out.putF32(layer(i, "mixer.out_proj.weight"), l.outProj(), dm, di);
            l.outProjBias().ifPresent(b -> out.putF32(layer(li, "mixer.out_proj.bias"), b, dm));
        }
        out.putF32(NORM_F, w.normF(), dm);
        if (!c.tieWordEmbeddings()) {
            out.putF32(LM_HEAD, w.lmHead(), c.vocabSize(), dm);
        }
        try {
            // config and weights as one unit (AtomicFolders): after a kill the folder holds the old model or the
            // new one, never new weights beside the old config; other files (tokenizer.json, ...) are kept, and an
            // index with its shards is replaced by the single file
            AtomicFolders.replace(dir, folder -> {
                try {
                    out.write(folder.resolve(WEIGHTS_FILE));
                } catch (SafetensorsException e) {
                    throw new IOException(e.getMessage(), e);
                }
                AtomicFiles.write(folder.resolve(CONFIG_FILE), c.toJsonString().getBytes(StandardCharsets.UTF_8));
            }, Set.of(WEIGHTS_FILE, CONFIG_FILE, INDEX_FILE));
        } catch (IOException e) {
            throw new CheckpointException("checkpoint " + dir + ": cannot save: " + e.getMessage(), e);
        }
    }

    /** Where each tensor of a checkpoint lives: one file, or the shards of an index. */
    static final class TensorSource implements AutoCloseable {
        final Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        final List<SafetensorsFile> files = new ArrayList<>();

        static TensorSource open(Path dir) throws CheckpointException {
            var s = new TensorSource();
            try {
                Path single = dir.resolve(WEIGHTS_FILE);
                Path index = dir.resolve(INDEX_FILE);
                if (Files.isRegularFile(single)) {
                    SafetensorsFile f = s.add(single);
                    for (String n : f.names()) {
                        s.byName.put(n, f);
                    }
                } else if (Files.isRegularFile(index)) {
                    s.openShards(dir, index);
                } else {
                    String hint = Files.exists(dir.resolve("pytorch_model.bin"))
                            ? " (pytorch_model.bin is a torch pickle and is not read: convert it to safetensors first)"
                            : "";
                    throw new CheckpointException("checkpoint " + dir + ": expected " + WEIGHTS_FILE + " or "
                            + INDEX_FILE + ", found neither" + hint);
                }
                return s;
            } catch (CheckpointException e) {
                s.close();
                throw e;
            } catch (SafetensorsException e) {
                s.close();
                throw new CheckpointException("checkpoint " + dir + ": " + e.getMessage(), e);
            }
        }

        private SafetensorsFile add(Path file) throws SafetensorsException {
            SafetensorsFile f = SafetensorsFile.open(file);
            files.add(f);
            return f;
        }

        private void openShards(Path dir, Path index) throws CheckpointException, SafetensorsException {
            JsonNode root;
            try {
                root = ConfigFiles.parse(ConfigFiles.readText(index), ConfigFormat.JSON);
            } catch (ConfigFiles.SyntaxException e) {
                throw new CheckpointException("checkpoint index " + index + ": " + e.getMessage(), e);
            } catch (IOException e) {
                throw new CheckpointException("checkpoint index " + index + ": cannot be read: " + e, e);
            }
            JsonNode map = root == null ? null : root.get("weight_map");
            if (map == null || !map.isObject()) {
                throw new CheckpointException("checkpoint index " + index + ": expected a 'weight_map' object of"
                        + " tensor name -> shard file, found " + (map == null ? "none" : map.getNodeType()));
            }
            Path base = dir.toAbsolutePath().normalize();
            Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
            for (var e : map.properties()) {
                String tensor = e.getKey();
                JsonNode fileNode = e.getValue();
                if (!fileNode.isTextual()) {
                    throw new CheckpointException("checkpoint index " + index + ": weight_map['" + tensor
                            + "'] = " + fileNode + ": expected a shard file name");
                }
                String shardName = fileNode.textValue();
                Path shard = base.resolve(shardName).normalize();
                if (!base.equals(shard.getParent())) {
                    throw new CheckpointException("checkpoint index " + index + ": weight_map['" + tensor + "'] = \""
                            + shardName + "\": expected a file name inside " + base);
                }
                SafetensorsFile f = shards.get(shardName);
                if (f == null) {
                    f = add(shard);
                    shards.put(shardName, f);
                }
                if (f.find(tensor).isEmpty()) {
                    throw new CheckpointException("checkpoint index " + index + ": tensor '" + tensor
                            + "' is mapped to " + shardName + ", but that file does not contain it");
                }
                byName.put(tensor, f);
            }
        }

        @Override
        public void close() {
            for (SafetensorsFile f : files) {
                f.close();
            }
        }
    }

    /**
     * The tensors a config implies, matched against a source: every expected name present with its exact shape,
     * nothing else present; then read as float32 and checked finite. Each family's reader lists its names.
     */
    static final class CheckedTensors {
        private final Path dir;
        private final TensorSource source;
        private final String model;
        private final Map<String, long[]> expected = new LinkedHashMap<>();

        /** @param model the model as the config describes it, for messages */
        CheckedTensors(Path dir, TensorSource source, String model) {
            this.dir = dir;
            this.source = source;
            this.model = model;
        }

        void expect(String name, long... shape) {
            expected.put(name, shape);
        }

        boolean present(String name) {
            return source.byName.containsKey(name);
        }

        /** Layer {@code i}'s {@code prefix}.weight (out, in) and, with {@code bias}, {@code prefix}.bias (out). */
        void expectLinear(int i, String prefix, boolean bias, long out, long in) {
            expect(layer(i, prefix + ".weight"), out, in);
            if (bias) {
                expect(layer(i, prefix + ".bias"), out);
            }
        }

        /** Layer {@code i}'s depthwise conv1d: weight (channels, 1, K) and, with {@code bias}, bias (channels). */
        void expectConv(int i, boolean bias, long channels, long kernel) {
            expect(layer(i, "mixer.conv1d.weight"), channels, 1, kernel);
            if (bias) {
                expect(layer(i, "mixer.conv1d.bias"), channels);
            }
        }

        /**
         * norm_f (d) and the head (V, d), then checks every name and shape. A tied checkpoint may still carry
         * lm_head (some writers do); it must then have the right shape.
         */
        void expectNormAndHeadThenCheck(boolean tied, long vocab, long dModel) throws CheckpointException {
            expect(NORM_F, dModel);
            if (!tied || present(LM_HEAD)) {
                expect(LM_HEAD, vocab, dModel);
            }
            checkNames();
        }

        /** The head's array: the embedding itself when tied, else lm_head. */
        float[] head(boolean tied, float[] embedding) throws CheckpointException {
            return tied ? embedding : tensor(LM_HEAD);
        }

        /**
         * The embedding (V, d) under the name this source uses, after the config's layer count and the embedding's
         * shape are compared with the files ({@link #checkSizesAgainstTheFiles}); returns that name.
         */
        String expectEmbedding(int layers, long vocab, long dModel) throws CheckpointException {
            String name = embeddingName();
            checkSizesAgainstTheFiles(layers, vocab, dModel, name);
            expect(name, vocab, dModel);
            return name;
        }

        /** The embedding's name in this source: HF's, or mamba_ssm's; both present is an error. */
        String embeddingName() throws CheckpointException {
            if (present(EMBEDDING) && present(EMBEDDING_STATE_SPACES)) {
                throw error("both '" + EMBEDDING + "' and '" + EMBEDDING_STATE_SPACES + "' are present; expected"
                        + " one embedding");
            }
            return present(EMBEDDING) || !present(EMBEDDING_STATE_SPACES) ? EMBEDDING : EMBEDDING_STATE_SPACES;
        }

        /**
         * Compares the config's sizes with the tensors the files hold before anything is built from them: a
         * num_hidden_layers of 10^9 beside a two-layer file is refused here, naming the key, instead of first
         * listing 10^10 expected tensors. Costs one pass over the tensor names.
         */
        private void checkSizesAgainstTheFiles(int layers, long vocab, long dModel, String embeddingName)
                throws CheckpointException {
            int highest = -1;
            for (String name : source.byName.keySet()) {
                Matcher m = LAYER_NAME.matcher(name);
                if (m.lookingAt()) {
                    try {
                        highest = Math.max(highest, Integer.parseInt(m.group(1)));
                    } catch (NumberFormatException e) {
                        throw error("tensor '" + name + "': layer index out of range");
                    }
                }
            }
            if (highest + 1 != layers) {
                throw error(CONFIG_FILE + " says num_hidden_layers = " + layers + ", but the weights hold "
                        + (highest < 0 ? "no layer tensors (backbone.layers.<i>.*)" : "layers 0.." + highest
                        + " (" + (highest + 1) + " layer" + (highest == 0 ? "" : "s") + ")")
                        + "; expected the config and the weights to describe one model");
            }
            var embedding = source.byName.containsKey(embeddingName)
                    ? source.byName.get(embeddingName).find(embeddingName) : Optional.<TensorInfo>empty();
            if (embedding.isPresent()) {
                long[] shape = embedding.get().shape();
                if (shape.length != 2 || shape[0] != vocab || shape[1] != dModel) {
                    throw error(CONFIG_FILE + " says vocab_size = " + vocab + " and hidden_size = " + dModel
                            + ", but tensor '" + embeddingName + "' has shape " + embedding.get().shapeString()
                            + "; expected [vocab_size, hidden_size]");
                }
            }
        }

        /** Refuses, before any tensor is read, a model larger than the heap can hold. */
        void requireHeap(long parameters) throws CheckpointException {
            try {
                HeapRoom.require(HeapRoom.floats(parameters), "checkpoint " + dir + " (" + model + ", " + parameters
                        + " parameters)");
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(e.getMessage(), e);
            }
        }

        void checkNames() throws CheckpointException {
            Set<String> missing = new LinkedHashSet<>(expected.keySet());
            missing.removeAll(source.byName.keySet());
            if (!missing.isEmpty()) {
                String first = missing.iterator().next();
                throw error("missing tensor '" + first + "' (expected shape " + Arrays.toString(expected.get(first))
                        + ")" + (missing.size() > 1 ? "; " + missing.size() + " missing in all: " + list(missing) : ""));
            }
            Set<String> unexpected = new LinkedHashSet<>(source.byName.keySet());
            unexpected.removeAll(expected.keySet());
            if (!unexpected.isEmpty()) {
                String first = unexpected.iterator().next();
                String shape = source.byName.get(first).find(first).map(TensorInfo::shapeString).orElse("?");
                throw error("unexpected tensor '" + first + "' (shape " + shape + ") for a " + model
                        + (unexpected.size() > 1 ? "; " + unexpected.size() + " unexpected in all: " + list(unexpected)
                        : ""));
            }
            for (var e : expected.entrySet()) {
                SafetensorsFile f = source.byName.get(e.getKey());
                TensorInfo t = f.find(e.getKey()).orElseThrow();
                if (!Arrays.equals(t.shape(), e.getValue())) {
                    throw error("tensor '" + e.getKey() + "' in " + f.path().getFileName() + ": expected shape "
                            + Arrays.toString(e.getValue()) + ", found " + t.shapeString() + " (" + model + ")");
                }
            }
        }

        float[] tensor(String name) throws CheckpointException {
            try {
                return source.byName.get(name).readFiniteFloats(name);
            } catch (SafetensorsException e) {
                throw new CheckpointException("checkpoint " + dir + ": " + e.getMessage(), e);
            }
        }

        Optional<float[]> optional(String name) throws CheckpointException {
            return expected.containsKey(name) ? Optional.of(tensor(name)) : Optional.empty();
        }

        CheckpointException error(String what) {
            return new CheckpointException("checkpoint " + dir + ": " + what);
        }

        private static String list(Set<String> names) {
            var l = new ArrayList<>(names);
            return l.size() <= 10 ? String.join(", ", l)
                    : String.join(", ", l.subList(0, 10)) + ", ... (" + (l.size() - 10) + " more)";
        }
    }

    /** Matches the tensors of a source against what a Mamba-1 config implies. */
    private static final class Reader {
        private final MambaConfig c;
        private final CheckedTensors t;

        Reader(Path dir, MambaConfig c, TensorSource source) {
            this.c = c;
            this.t = new CheckedTensors(dir, source, "mamba model with layers=" + c.layers() + ", d_model="
                    + c.dModel() + ", d_inner=" + c.dInner() + ", d_state=" + c.dState() + ", dt_rank=" + c.dtRank()
                    + ", conv_kernel=" + c.convKernel() + ", vocab=" + c.vocabSize() + ", use_bias=" + c.useBias()
                    + ", use_conv_bias=" + c.useConvBias());
        }

        MambaWeights read() throws CheckpointException {
            long v = c.vocabSize();
            long dm = c.dModel();
            long di = c.dInner();
            long n = c.dState();
            long r = c.dtRank();
            String embeddingName = t.expectEmbedding(c.layers(), v, dm);
            for (int i = 0; i < c.layers(); i++) {
                t.expect(layer(i, "norm.weight"), dm);
                t.expectLinear(i, "mixer.in_proj", c.useBias(), 2 * di, dm);
                t.expectConv(i, c.useConvBias(), di, c.convKernel());
                t.expect(layer(i, "mixer.x_proj.weight"), r + 2 * n, di);
                t.expectLinear(i, "mixer.dt_proj", true, di, r);
                t.expect(layer(i, "mixer.A_log"), di, n);
                t.expect(layer(i, "mixer.D"), di);
                t.expectLinear(i, "mixer.out_proj", c.useBias(), dm, di);
            }
            t.expectNormAndHeadThenCheck(c.tieWordEmbeddings(), v, dm);
            t.requireHeap(c.parameterCount());

            float[] embedding = t.tensor(embeddingName);
            var layers = new ArrayList<LayerWeights>();
            for (int i = 0; i < c.layers(); i++) {
                layers.add(new LayerWeights(
                        t.tensor(layer(i, "norm.weight")),
                        t.tensor(layer(i, "mixer.in_proj.weight")),
                        t.optional(layer(i, "mixer.in_proj.bias")),
                        t.tensor(layer(i, "mixer.conv1d.weight")),
                        t.optional(layer(i, "mixer.conv1d.bias")),
                        t.tensor(layer(i, "mixer.x_proj.weight")),
                        t.tensor(layer(i, "mixer.dt_proj.weight")),
                        t.tensor(layer(i, "mixer.dt_proj.bias")),
                        t.tensor(layer(i, "mixer.A_log")),
                        t.tensor(layer(i, "mixer.D")),
                        t.tensor(layer(i, "mixer.out_proj.weight")),
                        t.optional(layer(i, "mixer.out_proj.bias"))));
            }
            return new MambaWeights(c, embedding, layers, t.tensor(NORM_F), t.head(c.tieWordEmbeddings(), embedding));
        }
    }
}
