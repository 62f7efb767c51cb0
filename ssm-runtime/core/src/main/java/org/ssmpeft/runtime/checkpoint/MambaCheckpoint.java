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
    private static final class TensorSource implements AutoCloseable {
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

    /** Matches the tensors of a source against what the config implies. */
    private static final class Reader {
        private final Path dir;
        private final MambaConfig c;
        private final TensorSource source;
        private final Map<String, long[]> expected = new LinkedHashMap<>();

        Reader(Path dir, MambaConfig c, TensorSource source) {
            this.dir = dir;
            this.c = c;
            this.source = source;
        }

        MambaWeights read() throws CheckpointException {
            long v = c.vocabSize();
            long dm = c.dModel();
            long di = c.dInner();
            long n = c.dState();
            long r = c.dtRank();
            String embeddingName = source.byName.containsKey(EMBEDDING) || !source.byName.containsKey(
                    EMBEDDING_STATE_SPACES) ? EMBEDDING : EMBEDDING_STATE_SPACES;
            if (source.byName.containsKey(EMBEDDING) && source.byName.containsKey(EMBEDDING_STATE_SPACES)) {
                throw error("both '" + EMBEDDING + "' and '" + EMBEDDING_STATE_SPACES + "' are present; expected"
                        + " one embedding");
            }
            checkSizesAgainstTheFiles(embeddingName);
            expected.put(embeddingName, new long[] {v, dm});
            for (int i = 0; i < c.layers(); i++) {
                expected.put(layer(i, "norm.weight"), new long[] {dm});
                expected.put(layer(i, "mixer.in_proj.weight"), new long[] {2 * di, dm});
                if (c.useBias()) {
                    expected.put(layer(i, "mixer.in_proj.bias"), new long[] {2 * di});
                }
                expected.put(layer(i, "mixer.conv1d.weight"), new long[] {di, 1, c.convKernel()});
                if (c.useConvBias()) {
                    expected.put(layer(i, "mixer.conv1d.bias"), new long[] {di});
                }
                expected.put(layer(i, "mixer.x_proj.weight"), new long[] {r + 2 * n, di});
                expected.put(layer(i, "mixer.dt_proj.weight"), new long[] {di, r});
                expected.put(layer(i, "mixer.dt_proj.bias"), new long[] {di});
                expected.put(layer(i, "mixer.A_log"), new long[] {di, n});
                expected.put(layer(i, "mixer.D"), new long[] {di});
                expected.put(layer(i, "mixer.out_proj.weight"), new long[] {dm, di});
                if (c.useBias()) {
                    expected.put(layer(i, "mixer.out_proj.bias"), new long[] {dm});
                }
            }
            expected.put(NORM_F, new long[] {dm});
            boolean headPresent = source.byName.containsKey(LM_HEAD);
            if (!c.tieWordEmbeddings() || headPresent) {
                // A tied checkpoint may still carry lm_head (some writers do); it must then have the right shape.
                expected.put(LM_HEAD, new long[] {v, dm});
            }
            checkNames();
            try {
                HeapRoom.require(HeapRoom.floats(c.parameterCount()), "checkpoint " + dir + " (" + describe()
                        + ", " + c.parameterCount() + " parameters)");
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(e.getMessage(), e);
            }

            float[] embedding = tensor(embeddingName);
            var layers = new ArrayList<LayerWeights>();
            for (int i = 0; i < c.layers(); i++) {
                layers.add(new LayerWeights(
                        tensor(layer(i, "norm.weight")),
                        tensor(layer(i, "mixer.in_proj.weight")),
                        optional(layer(i, "mixer.in_proj.bias")),
                        tensor(layer(i, "mixer.conv1d.weight")),
                        optional(layer(i, "mixer.conv1d.bias")),
                        tensor(layer(i, "mixer.x_proj.weight")),
                        tensor(layer(i, "mixer.dt_proj.weight")),
                        tensor(layer(i, "mixer.dt_proj.bias")),
                        tensor(layer(i, "mixer.A_log")),
                        tensor(layer(i, "mixer.D")),
                        tensor(layer(i, "mixer.out_proj.weight")),
                        optional(layer(i, "mixer.out_proj.bias"))));
            }
            float[] normF = tensor(NORM_F);
            float[] lmHead = c.tieWordEmbeddings() ? embedding : tensor(LM_HEAD);
            return new MambaWeights(c, embedding, layers, normF, lmHead);
        }

        /**
         * Compares the config's sizes with the tensors the files hold before anything is built from them: a
         * num_hidden_layers of 10^9 beside a two-layer file is refused here, naming the key, instead of first
         * listing 10^10 expected tensors. Costs one pass over the tensor names.
         */
        private void checkSizesAgainstTheFiles(String embeddingName) throws CheckpointException {
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
            if (highest + 1 != c.layers()) {
                throw error(CONFIG_FILE + " says num_hidden_layers = " + c.layers() + ", but the weights hold "
                        + (highest < 0 ? "no layer tensors (backbone.layers.<i>.*)" : "layers 0.." + highest
                        + " (" + (highest + 1) + " layer" + (highest == 0 ? "" : "s") + ")")
                        + "; expected the config and the weights to describe one model");
            }
            var embedding = source.byName.containsKey(embeddingName)
                    ? source.byName.get(embeddingName).find(embeddingName) : Optional.<TensorInfo>empty();
            if (embedding.isPresent()) {
                long[] shape = embedding.get().shape();
                if (shape.length != 2 || shape[0] != c.vocabSize() || shape[1] != c.dModel()) {
                    throw error(CONFIG_FILE + " says vocab_size = " + c.vocabSize() + " and hidden_size = "
                            + c.dModel() + ", but tensor '" + embeddingName + "' has shape "
                            + embedding.get().shapeString() + "; expected [vocab_size, hidden_size]");
                }
            }
        }

        private void checkNames() throws CheckpointException {
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
                throw error("unexpected tensor '" + first + "' (shape " + shape + ") for a " + describe()
                        + (unexpected.size() > 1 ? "; " + unexpected.size() + " unexpected in all: " + list(unexpected)
                        : ""));
            }
            for (var e : expected.entrySet()) {
                SafetensorsFile f = source.byName.get(e.getKey());
                TensorInfo t = f.find(e.getKey()).orElseThrow();
                if (!Arrays.equals(t.shape(), e.getValue())) {
                    throw error("tensor '" + e.getKey() + "' in " + f.path().getFileName() + ": expected shape "
                            + Arrays.toString(e.getValue()) + ", found " + t.shapeString() + " (" + describe() + ")");
                }
            }
        }

        private float[] tensor(String name) throws CheckpointException {
            try {
                return source.byName.get(name).readFiniteFloats(name);
            } catch (SafetensorsException e) {
                throw new CheckpointException("checkpoint " + dir + ": " + e.getMessage(), e);
            }
        }

        private Optional<float[]> optional(String name) throws CheckpointException {
            return expected.containsKey(name) ? Optional.of(tensor(name)) : Optional.empty();
        }

        private CheckpointException error(String what) {
            return new CheckpointException("checkpoint " + dir + ": " + what);
        }

        private String describe() {
            return "mamba model with layers=" + c.layers() + ", d_model=" + c.dModel() + ", d_inner=" + c.dInner()
                    + ", d_state=" + c.dState() + ", dt_rank=" + c.dtRank() + ", conv_kernel=" + c.convKernel()
                    + ", vocab=" + c.vocabSize() + ", use_bias=" + c.useBias() + ", use_conv_bias=" + c.useConvBias();
        }

        private static String list(Set<String> names) {
            var l = new ArrayList<>(names);
            return l.size() <= 10 ? String.join(", ", l)
                    : String.join(", ", l.subList(0, 10)) + ", ... (" + (l.size() - 10) + " more)";
        }
    }
}
