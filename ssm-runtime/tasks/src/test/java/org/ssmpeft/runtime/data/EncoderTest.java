package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.tokenize.ByteTokenizer;
import org.ssmpeft.runtime.tokenize.HfTokenizer;
import org.ssmpeft.runtime.tokenize.Tokenizer;

class EncoderTest {

    private static final ByteTokenizer BYTES = ByteTokenizer.standard();

    private static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return IntStream.range(0, b.length).map(i -> b[i] & 0xff).toArray();
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    private static int[] ignored(int n) {
        return IntStream.range(0, n).map(i -> -100).toArray();
    }

    @Test
    void generationIsInputSeparatorThenLabelAndEosWithTheInputMasked() {
        Encoder enc = new Encoder(BYTES, PromptFormat.generation(""));
        EncodedExample e = enc.encode(new Example("A: hi", "greeting"), 7).orElseThrow();
        int[] prompt = bytes("A: hi###");
        int[] label = concat(bytes("greeting"), new int[] {ByteTokenizer.EOS_ID});
        assertThat(e.tokens()).containsExactly(concat(prompt, label));
        assertThat(e.labels()).containsExactly(concat(ignored(prompt.length), label));
        assertThat(e.promptLength()).isEqualTo(8);
        assertThat(e.labelCount()).isEqualTo(9);
        assertThat(e.source()).isEqualTo(7);
    }

    @Test
    void classificationIsInstructionInputSeparatorThenTheDigitWithoutEos() {
        Encoder enc = new Encoder(BYTES, GlueData.format(GlueTask.RTE));
        EncodedExample e = enc.encode(new Example("a###b", "1"), 0).orElseThrow();
        int[] prompt = bytes(GlueTask.RTE.instruction() + "a###b###");
        assertThat(e.tokens()).containsExactly(concat(prompt, new int[] {'1'}));
        assertThat(e.labels()).containsExactly(concat(ignored(prompt.length), new int[] {'1'}));
    }

    @Test
    void prefixInputAndLabelAreTokenisedSeparately() throws Exception {
        try (HfTokenizer tok = HfTokenizer.load(TestData.resource("tokenizer/byte-bpe/tokenizer.json"))) {
            PromptFormat f = new PromptFormat("Q#", "", "###", true);
            Encoder enc = new Encoder(tok, f);
            Example ex = new Example("#x", "in the sql");
            EncodedExample e = enc.encode(ex, 0).orElseThrow();
            int[] prefix = tok.encode("Q#");
            int[] input = tok.encode("#x###");
            int[] label = concat(tok.encode("in the sql"), new int[] {0});
            assertThat(e.tokens()).containsExactly(concat(prefix, input, label));
            assertThat(e.labels()).containsExactly(concat(ignored(prefix.length + input.length), label));
            assertThat(enc.prompt(ex)).containsExactly(concat(prefix, input));
            // "Q" "##" "x" "###" when tokenised as one text, "Q" "#" | "#" "x" "###" as the reference does it
            assertThat(tok.encode("Q##x###in the sql")).as("joint tokenisation would differ")
                    .isNotEqualTo(concat(prefix, input, tok.encode("in the sql")));
        }
    }

    @Test
    void spiderEncodesItsPrefixOnItsOwn() throws Exception {
        Dataset d = SpiderData.load(TestData.dir("spider"), Split.TRAIN, SpiderData.Target.LOWER_CASED);
        Encoder enc = new Encoder(BYTES, d.format(), Tasks.referenceMaxLength("spider"), Truncation.DROP);
        Example ex = d.examples().get(0);
        EncodedExample e = enc.encode(ex, 0).orElseThrow();
        assertThat(e.tokens()).startsWith(bytes(PromptFormat.SPIDER_PREFIX));
        assertThat(BYTES.decode(e.tokens())).isEqualTo(d.format().render(ex));
        assertThat(BYTES.decode(java.util.Arrays.copyOfRange(e.tokens(), e.promptLength(), e.length())))
                .isEqualTo("select count(*) from stadium<|endoftext|>");
    }

    @Test
    void theReferenceShiftedFormScoresTheSameTargets() {
        EncodedExample e = new Encoder(BYTES, PromptFormat.generation("P:")).encode(new Example("ab", "cd"), 0)
                .orElseThrow();
        // the paper code: ids = prefix + input + label; input_ids = ids[:-1]; label_ids = pad(ids[-len(label):]) left
        int[] ids = concat(bytes("P:"), bytes("ab###"), bytes("cd"), new int[] {256});
        assertThat(e.referenceInputIds()).containsExactly(java.util.Arrays.copyOf(ids, ids.length - 1));
        assertThat(e.referenceLabelIds()).containsExactly(concat(ignored(ids.length - 1 - 3), new int[] {'c', 'd', 256}));
        // SsmModel's convention: position t is scored against labels[t + 1]; same (position, target) pairs
        for (int t = 0; t + 1 < e.length(); t++) {
            assertThat(e.labels()[t + 1]).as("position " + t).isEqualTo(e.referenceLabelIds()[t]);
        }
    }

    @Test
    void dropPolicyLeavesOutExamplesOverTheBoundNotCountingThePrefix() {
        PromptFormat f = PromptFormat.generation("a long prefix that is not counted");
        Encoder enc = new Encoder(BYTES, f, 10, Truncation.DROP);
        // input "abcd###" 7 + label "xy" + eos 3 = 10: fits; one more byte does not
        assertThat(enc.encode(new Example("abcd", "xy"), 0)).isPresent();
        assertThat(enc.encode(new Example("abcde", "xy"), 1)).isEmpty();
        Encoder.Encoded all = enc.encodeAll(List.of(new Example("abcd", "xy"), new Example("abcde", "xy"),
                new Example("a", "b")));
        assertThat(all.examples()).extracting(EncodedExample::source).containsExactly(0, 2);
        assertThat(all.dropped()).containsExactly(1);
    }

    @Test
    void truncateInputStartKeepsPrefixSeparatorAndLabel() {
        Encoder enc = new Encoder(BYTES, PromptFormat.generation("P:"), 10, Truncation.TRUNCATE_INPUT_START);
        EncodedExample e = enc.encode(new Example("0123456789", "xy"), 0).orElseThrow();
        assertThat(BYTES.decode(e.tokens())).isEqualTo("P:6789###xy<|endoftext|>");
        assertThat(e.length() - 2).isEqualTo(10);
        assertThat(e.labelCount()).isEqualTo(3);
        assertThat(enc.encode(new Example("0", "a label longer than ten"), 0)).as("label alone too long").isEmpty();
    }

    @Test
    void anEmptyClassificationLabelIsRefused() {
        Encoder enc = new Encoder(BYTES, GlueData.format(GlueTask.SST2));
        assertThatThrownBy(() -> enc.encode(new Example("great film", ""), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty label")
                .hasMessageContaining("great film");
    }

    @Test
    void aGenerationFormatNeedsAnEosToken() {
        Tokenizer noEos = new Tokenizer() {
            public int[] encode(String text) {
                return BYTES.encode(text);
            }

            public String decode(int[] ids, boolean skip) {
                return BYTES.decode(ids, skip);
            }

            public int vocabSize() {
                return 256;
            }

            public OptionalInt tokenId(String token) {
                return OptionalInt.empty();
            }

            public OptionalInt eosId() {
                return OptionalInt.empty();
            }

            public OptionalInt padId() {
                return OptionalInt.empty();
            }

            public OptionalInt bosId() {
                return OptionalInt.empty();
            }

            public String description() {
                return "bytes without specials";
            }
        };
        assertThatThrownBy(() -> new Encoder(noEos, PromptFormat.generation("")))
                .hasMessageContaining("bytes without specials has no eos token");
        assertThat(new Encoder(noEos, GlueData.format(GlueTask.COLA)).encode(new Example("x", "0", Map.of()), 0))
                .isPresent();
    }
}
