package org.ssmpeft.runtime.tokenize;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/**
 * A byte-level BPE {@code tokenizer.json} trained by Hugging Face's {@code tokenizers} (GPT-NeoX's pipeline: NFC,
 * ByteLevel pre-tokenizer, post-processor and decoder; 700 tokens learned from 5000 generated strings of many
 * scripts, emoji, whitespace runs and special tokens) and Python's encodings of 3016 other strings
 * ({@code make_interop.py tokenizer}; {@code tokenizer/trained-bpe/manifest.json}): through DJL, {@link HfTokenizer}
 * gives Python's ids and spans for every string, and Python's decode; decoding gives back the NFC form of the text.
 */
class TrainedBpeInteropTest {

    private static Path folder() throws Exception {
        return Path.of(TrainedBpeInteropTest.class.getResource("/tokenizer/trained-bpe/tokenizer.json").toURI())
                .getParent();
    }

    private static List<JsonNode> encodings() throws Exception {
        var json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        try (var in = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(folder()
                .resolve("encodings.jsonl.gz"))), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                out.add(json.readTree(line));
            }
        }
        return out;
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @Test
    void idsSpansAndDecodingEqualPythonsOnEveryString() throws Exception {
        List<JsonNode> cases = encodings();
        List<String> problems = new ArrayList<>();
        long tokens = 0;
        int astral = 0;
        int special = 0;
        int normalised = 0;
        try (HfTokenizer t = HfTokenizer.load(folder())) {
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                int[] ids = ints(c.get("ids"));
                // Python's offsets count code points; the project's spans are string indices
                int[] cps = ints(c.get("offsets"));
                int[] spans = new int[cps.length];
                for (int i = 0; i < cps.length; i++) {
                    spans[i] = text.offsetByCodePoints(0, cps[i]);
                }
                HfTokenizer.Encoded ours = t.encodeWithSpans(text);
                if (!Arrays.equals(ours.ids(), ids)) {
                    problems.add("ids of " + c.get("text") + ": " + Arrays.toString(ours.ids()) + ", Python "
                            + Arrays.toString(ids));
                } else if (!Arrays.equals(ours.spans(), spans)) {
                    problems.add("spans of " + c.get("text") + ": " + Arrays.toString(ours.spans()) + ", Python "
                            + Arrays.toString(spans));
                }
                if (!Arrays.equals(t.encode(text), ids)) {
                    problems.add("encode of " + c.get("text") + " differs from encodeWithSpans");
                }
                String decoded = t.decode(ids);
                if (!decoded.equals(c.get("decoded").asText())) {
                    problems.add("decode of " + c.get("text") + ": " + decoded + ", Python " + c.get("decoded"));
                }
                if (!t.decode(ids, true).equals(c.get("decoded_skip_special").asText())) {
                    problems.add("decode (skip special) of " + c.get("text") + ": " + t.decode(ids, true));
                }
                String nfc = Normalizer.normalize(text, Normalizer.Form.NFC);
                if (!decoded.equals(nfc)) {
                    problems.add("round trip of " + c.get("text") + ": decoded " + decoded);
                }
                tokens += ids.length;
                astral += text.codePoints().anyMatch(Character::isSupplementaryCodePoint) ? 1 : 0;
                special += text.contains("<|endoftext|>") || text.contains("<|padding|>") ? 1 : 0;
                normalised += nfc.equals(text) ? 0 : 1;
            }
        }
        System.out.printf("trained byte-level BPE: %d strings (%d tokens; %d with astral code points, %d with special"
                + " tokens, %d changed by NFC): %d differ from Python%n", cases.size(), tokens, astral, special,
                normalised, problems.size());
        assertThat(problems).as("differences from Python's tokenizers").isEmpty();
        assertThat(cases).hasSizeGreaterThan(3000);
        assertThat(astral).isGreaterThan(100);
        assertThat(special).isGreaterThan(100);
    }

    @Test
    void aSpanIsTheTextOfItsToken() throws Exception {
        try (HfTokenizer t = HfTokenizer.load(folder())) {
            String text = "state 🙂 space";
            HfTokenizer.Encoded e = t.encodeWithSpans(text);
            StringBuilder joined = new StringBuilder();
            int last = 0;
            for (int i = 0; i < e.ids().length; i++) {
                if (e.start(i) >= last) {
                    joined.append(text, last, e.end(i));
                    last = e.end(i);
                }
            }
            assertThat(joined.toString()).isEqualTo(text);
            assertThat(text.substring(e.start(e.ids().length - 1), e.end(e.ids().length - 1))).isEqualTo("space");
        }
    }
}
