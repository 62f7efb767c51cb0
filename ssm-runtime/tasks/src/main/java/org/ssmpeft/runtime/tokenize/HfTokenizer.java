package org.ssmpeft.runtime.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A Hugging Face {@code tokenizer.json} read from a local file through DJL's tokenizers
 * ({@code ai.djl.huggingface:tokenizers}, the Rust {@code tokenizers} library behind a JNI binding).
 *
 * <p>Offline by design (DESIGN.md §5): only a local path is accepted, never a hub name; unless the user chose
 * otherwise the first use sets DJL's offline mode ({@code ai.djl.offline=true}) and the CPU flavour of the native
 * library ({@code RUST_FLAVOR=cpu}), so DJL loads the library that ships inside its jar and never tries to download a
 * CUDA build on GPU machines (formats.md §10). DJL's default truncation (512 tokens) and padding are switched off:
 * encode returns every id of the text.
 *
 * <p>Special tokens come from the options, else from {@code tokenizer_config.json} beside the file ({@code eos_token},
 * {@code pad_token}, {@code bos_token}), else eos = {@code <|endoftext|>} when the vocabulary has it; pad defaults to
 * eos (the paper code sets {@code pad = eos}).
 *
 * <p>Thread-safety: encode and decode may be called from several threads at once (the Rust tokenizer is immutable
 * after loading and DJL keeps no per-call state); {@link #close} frees the native tokenizer and must come after the
 * last call, which then fail with {@link IllegalStateException}. Close it (try-with-resources); DJL's finalizer is only
 * a fallback.
 */
public final class HfTokenizer implements Tokenizer {

    /** The project's strict reading (no duplicate keys, nothing after the value). */
    private static final ObjectMapper JSON = org.ssmpeft.api.config.ConfigFiles.json();

    static {
        // before DJL reads them: no download of a native build, no telemetry
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
    }

    /**
     * How to load: whether the file's post-processor adds its special tokens (transformers' {@code encode} default is
     * true; GPT-NeoX's adds none), and special-token texts that override {@code tokenizer_config.json}.
     */
    public record Options(boolean addSpecialTokens, Optional<String> eosToken, Optional<String> padToken,
                          Optional<String> bosToken) {

        public static Options defaults() {
            return new Options(true, Optional.empty(), Optional.empty(), Optional.empty());
        }

        public Options withEos(String token) {
            return new Options(addSpecialTokens, Optional.of(token), padToken, bosToken);
        }

        public Options withPad(String token) {
            return new Options(addSpecialTokens, eosToken, Optional.of(token), bosToken);
        }

        public Options withAddSpecialTokens(boolean add) {
            return new Options(add, eosToken, padToken, bosToken);
        }
    }

    /** The tokenizer models of Hugging Face's tokenizers library. */
    private static final java.util.List<String> MODEL_TYPES = java.util.List.of("BPE", "WordLevel", "WordPiece",
            "Unigram");

    private final Path file;
    private final HuggingFaceTokenizer djl;
    private final boolean addSpecialTokens;
    private final Map<String, Integer> vocab;
    private final int vocabSize;
    private final OptionalInt eos;
    private final OptionalInt pad;
    private final OptionalInt bos;

    private HfTokenizer(Path file, HuggingFaceTokenizer djl, boolean addSpecialTokens, Map<String, Integer> vocab,
                        int vocabSize, OptionalInt eos, OptionalInt pad, OptionalInt bos) {
        this.file = file;
        this.djl = djl;
        this.addSpecialTokens = addSpecialTokens;
        this.vocab = vocab;
        this.vocabSize = vocabSize;
        this.eos = eos;
        this.pad = pad;
        this.bos = bos;
    }

    /** Loads {@code path}: a {@code tokenizer.json} file, or a folder holding one. */
    public static HfTokenizer load(Path path) throws TokenizerException {
        return load(path, Options.defaults());
    }

    /** Loads {@code path} (a {@code tokenizer.json} file, or a folder holding one) with these options. */
    public static HfTokenizer load(Path path, Options options) throws TokenizerException {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new TokenizerException("no tokenizer file at " + file.toAbsolutePath()
                    + "; give the path of a Hugging Face tokenizer.json (or of the model folder holding it):"
                    + " tokenizers are read from local files only, nothing is downloaded");
        }
        byte[] bytes;
        JsonNode root;
        try {
            bytes = Files.readAllBytes(file);
            root = JSON.readTree(bytes);
        } catch (JacksonException e) {
            throw new TokenizerException(file + " is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr()), e);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e, e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new TokenizerException(file + " is not a Hugging Face tokenizer.json: expected a JSON object with a"
                    + " 'model' object (BPE, WordLevel, WordPiece or Unigram)");
        }
        JsonNode type = root.path("model").path("type");
        if (!type.isMissingNode() && !MODEL_TYPES.contains(type.asText())) {
            throw new TokenizerException(file + ": model.type = " + type + ": expected one of "
                    + String.join(", ", MODEL_TYPES));
        }
        Map<String, Integer> vocab = new HashMap<>();
        int maxId = readVocab(root, vocab, file);

        HuggingFaceTokenizer djl;
        try {
            djl = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), Map.of(
                    "addSpecialTokens", Boolean.toString(options.addSpecialTokens()),
                    "truncation", "false",
                    "padding", "false"));
        } catch (IOException | RuntimeException e) {
            String said = String.valueOf(e.getMessage());
            // serde's words for "a section of the file has the wrong fields": say which section could be meant
            String hint = said.contains("did not match any variant") ? "; one of its sections (model, normalizer,"
                    + " pre_tokenizer, post_processor, decoder) has fields that fit none of its kinds: compare the"
                    + " file with one transformers wrote" : "";
            throw new TokenizerException("DJL cannot load " + file + " as a Hugging Face tokenizer: " + said + hint
                    + (e.getCause() == null ? "" : " (cause: " + e.getCause() + ")"), e);
        }
        try {
            JsonNode config = readConfig(file.resolveSibling("tokenizer_config.json"));
            Optional<String> eosText = options.eosToken().or(() -> configToken(config, "eos_token"))
                    .or(() -> vocab.containsKey(ByteTokenizer.EOS_TOKEN)
                            ? Optional.of(ByteTokenizer.EOS_TOKEN) : Optional.empty());
            Optional<String> padText = options.padToken().or(() -> configToken(config, "pad_token"));
            Optional<String> bosText = options.bosToken().or(() -> configToken(config, "bos_token"));
            OptionalInt eos = idOf(eosText, vocab, "eos", file);
            OptionalInt pad = padText.isPresent() ? idOf(padText, vocab, "pad", file) : eos;
            OptionalInt bos = idOf(bosText, vocab, "bos", file);
            return new HfTokenizer(file, djl, options.addSpecialTokens(), Map.copyOf(vocab), maxId + 1, eos, pad, bos);
        } catch (TokenizerException | RuntimeException e) {
            djl.close();
            throw e;
        }
    }

    /**
     * Fills {@code vocab} from the model's vocabulary and the added tokens; returns the largest id. Ids must be
     * non-negative integers and each names one token: two tokens on one id (or one added token on two ids) is a
     * broken file, since decoding that id could give either. An added token that repeats its vocabulary entry (the
     * same text on the same id, as GPT-NeoX's files do) is one token.
     */
    private static int readVocab(JsonNode root, Map<String, Integer> vocab, Path file)
            throws TokenizerException {
        JsonNode model = root.get("model");
        JsonNode v = model.path("vocab");
        Map<Integer, String> byId = new HashMap<>();
        int maxId = -1;
        if (v.isObject()) { // BPE, WordLevel, WordPiece: token -> id
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode id = e.getValue();
                if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0) {
                    throw new TokenizerException(file + ": model.vocab['" + e.getKey() + "'] = " + id
                            + ": expected a non-negative integer id");
                }
                String other = byId.putIfAbsent(id.intValue(), e.getKey());
                if (other != null) {
                    throw new TokenizerException(file + ": model.vocab gives id " + id.intValue() + " to two tokens,"
                            + " '" + other + "' and '" + e.getKey() + "'; expected one token per id");
                }
                vocab.put(e.getKey(), id.intValue());
                maxId = Math.max(maxId, id.intValue());
            }
        } else if (v.isArray()) { // Unigram: [[piece, score], ...], id = index
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).path(0).isTextual()) {
                    throw new TokenizerException(file + ": model.vocab[" + i + "] = " + v.get(i)
                            + ": expected [piece, score] with a text piece");
                }
                String piece = v.get(i).path(0).asText();
                if (vocab.putIfAbsent(piece, i) != null) {
                    throw new TokenizerException(file + ": model.vocab[" + i + "] repeats the piece '" + piece
                            + "' of model.vocab[" + vocab.get(piece) + "]; expected each piece once");
                }
                byId.put(i, piece);
            }
            maxId = v.size() - 1;
        } else {
            throw new TokenizerException(file + ": model.vocab missing; expected an object (token -> id) or, for"
                    + " Unigram, an array of [piece, score]");
        }
        int index = 0;
        for (JsonNode t : root.path("added_tokens")) {
            JsonNode id = t.path("id");
            if (!t.path("content").isTextual() || !id.isIntegralNumber() || !id.canConvertToInt()
                    || id.intValue() < 0) {
                throw new TokenizerException(file + ": added_tokens[" + index + "] = " + t + ": expected 'content'"
                        + " (text) and 'id' (a non-negative integer)");
            }
            String content = t.get("content").asText();
            String other = byId.get(id.intValue());
            if (other != null && !other.equals(content)) {
                throw new TokenizerException(file + ": added_tokens[" + index + "] puts '" + content + "' on id "
                        + id.intValue() + ", which is already '" + other + "'; expected one token per id");
            }
            Integer known = vocab.get(content);
            if (known != null && known != id.intValue()) {
                throw new TokenizerException(file + ": added_tokens[" + index + "] puts '" + content + "' on id "
                        + id.intValue() + ", but the vocabulary has it on id " + known + "; expected one id per token");
            }
            byId.put(id.intValue(), content);
            vocab.put(content, id.intValue());
            maxId = Math.max(maxId, id.intValue());
            index++;
        }
        return maxId;
    }

    private static JsonNode readConfig(Path config) throws TokenizerException {
        if (!Files.isRegularFile(config)) {
            return JSON.missingNode();
        }
        try {
            return JSON.readTree(config.toFile());
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + config + ": " + e.getMessage(), e);
        }
    }

    /** A special token of tokenizer_config.json: a string or {"content": ...}. */
    private static Optional<String> configToken(JsonNode config, String key) {
        JsonNode t = config.path(key);
        if (t.isTextual()) {
            return Optional.of(t.asText());
        }
        if (t.path("content").isTextual()) {
            return Optional.of(t.path("content").asText());
        }
        return Optional.empty();
    }

    private static OptionalInt idOf(Optional<String> token, Map<String, Integer> vocab, String role, Path file)
            throws TokenizerException {
        if (token.isEmpty()) {
            return OptionalInt.empty();
        }
        Integer id = vocab.get(token.get());
        if (id == null) {
            throw new TokenizerException(role + " token '" + token.get() + "' is not in the vocabulary of " + file);
        }
        return OptionalInt.of(id);
    }

    /** The file this tokenizer was read from. */
    public Path file() {
        return file;
    }

    @Override
    public int[] encode(String text) {
        long[] ids = djl.encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /**
     * The ids of {@code text} (as {@link #encode}) with the span of the text each came from, as Hugging Face's
     * {@code Encoding.offsets} (after the post-processor's {@code trim_offsets}; a token may span nothing, and the
     * bytes of one character split over several tokens share its span), but in Java string indices (UTF-16 units)
     * rather than code points: {@code text.substring(spans[2i], spans[2i + 1])} is the text of token i. A token
     * with no place in the text (one the post-processor added) has the span (-1, -1).
     */
    public Encoded encodeWithSpans(String text) {
        var encoding = djl.encode(text, addSpecialTokens, false);
        long[] ids = encoding.getIds();
        var spans = encoding.getCharTokenSpans();
        // DJL's spans count code points (as the Python binding's offsets); index them into the UTF-16 string
        int[] utf16At = new int[text.codePointCount(0, text.length()) + 1];
        for (int cp = 0, i = 0; cp < utf16At.length; cp++) {
            utf16At[cp] = i;
            if (i < text.length()) {
                i += Character.charCount(text.codePointAt(i));
            }
        }
        int[] outIds = new int[ids.length];
        int[] out = new int[2 * ids.length];
        for (int i = 0; i < ids.length; i++) {
            outIds[i] = Math.toIntExact(ids[i]);
            boolean placed = spans[i] != null && spans[i].getStart() >= 0 && spans[i].getEnd() < utf16At.length;
            out[2 * i] = placed ? utf16At[spans[i].getStart()] : -1;
            out[2 * i + 1] = placed ? utf16At[spans[i].getEnd()] : -1;
        }
        return new Encoded(outIds, out);
    }

    /**
     * Ids and their spans in the text: token i came from {@code text.substring(spans[2i], spans[2i + 1])}.
     *
     * @param ids   as {@link #encode} returns them
     * @param spans start and end (exclusive) per token, in Java string indices; (-1, -1) where a token has none
     */
    public record Encoded(int[] ids, int[] spans) {
        public Encoded {
            if (spans.length != 2 * ids.length) {
                throw new IllegalArgumentException("an encoding needs two span ends per id: " + ids.length
                        + " ids, " + spans.length + " span ends");
            }
        }

        /** Start (inclusive) of token {@code i}'s span. */
        public int start(int i) {
            return spans[2 * i];
        }

        /** End (exclusive) of token {@code i}'s span. */
        public int end(int i) {
            return spans[2 * i + 1];
        }
    }

    /** The token strings of {@code text} as the model's vocabulary spells them (e.g. {@code Ġthe}). */
    public String[] tokens(String text) {
        return djl.encode(text, addSpecialTokens, false).getTokens();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return djl.decode(l, skipSpecialTokens);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public OptionalInt eosId() {
        return eos;
    }

    @Override
    public OptionalInt padId() {
        return pad;
    }

    @Override
    public OptionalInt bosId() {
        return bos;
    }

    @Override
    public String description() {
        return "tokenizer.json at " + file;
    }

    @Override
    public String toString() {
        return description();
    }

    /** Frees the native tokenizer; idempotent. */
    @Override
    public void close() {
        djl.close();
    }
}
