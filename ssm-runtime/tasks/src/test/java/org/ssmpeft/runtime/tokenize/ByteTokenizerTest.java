package org.ssmpeft.runtime.tokenize;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {

    private final ByteTokenizer tok = ByteTokenizer.standard();

    @Test
    void idsAreTheUtf8BytesOfTheText() {
        assertThat(tok.encode("Hi é")).containsExactly('H', 'i', ' ', 0xc3, 0xa9);
        assertThat(tok.encode("")).isEmpty();
    }

    @Test
    void roundTripsAnyText() {
        String text = "SELECT count(*) FROM singer WHERE age > 56 ### ünïcödé 世界 😀\n\ttabs";
        assertThat(tok.decode(tok.encode(text))).isEqualTo(text);
        assertThat(tok.encode(text)).hasSize(text.getBytes(StandardCharsets.UTF_8).length);
    }

    @Test
    void specialTokensSitAbove255() {
        assertThat(tok.vocabSize()).isEqualTo(258);
        assertThat(tok.eosId()).hasValue(256);
        assertThat(tok.bosId()).hasValue(256);
        assertThat(tok.padId()).hasValue(257);
        assertThat(tok.tokenId("<|endoftext|>")).hasValue(ByteTokenizer.EOS_ID);
        assertThat(tok.tokenId("<|padding|>")).hasValue(ByteTokenizer.PAD_ID);
        assertThat(tok.tokenId("#")).hasValue('#');
        assertThat(tok.tokenId("##")).isEmpty();
    }

    @Test
    void specialTokenTextInTheInputBecomesItsId() {
        assertThat(tok.encode("ok<|endoftext|>")).containsExactly('o', 'k', 256);
        assertThat(tok.encode("<|padding|><|endoftext|>")).containsExactly(257, 256);
        assertThat(tok.encode("<|endoftext|")).hasSize("<|endoftext|".length());
    }

    @Test
    void decodeWritesOrSkipsSpecialTokens() {
        int[] ids = {'a', 256, 'b', 257};
        assertThat(tok.decode(ids)).isEqualTo("a<|endoftext|>b<|padding|>");
        assertThat(tok.decode(ids, true)).isEqualTo("ab");
    }

    @Test
    void invalidUtf8DecodesToReplacementCharactersWithoutThrowing() {
        // a lone continuation byte, a truncated 3-byte sequence cut by a special token, an overlong encoding
        assertThat(tok.decode(new int[] {'a', 0x80, 'b'})).isEqualTo("a\uFFFDb");
        assertThat(tok.decode(new int[] {0xe4, 0xb8, 256, 'c'})).startsWith("\uFFFD").endsWith("<|endoftext|>c");
        assertThat(tok.decode(new int[] {0xc0, 0xaf})).doesNotContain("/").contains("\uFFFD");
    }

    @Test
    void idsOutsideTheVocabularyDecodeToReplacementCharacters() {
        assertThat(tok.decode(new int[] {'x', 258, -1, 'y'})).isEqualTo("x\uFFFD\uFFFDy");
    }

    @Test
    void customSpecialTokensAndPadFallsBackToEos() {
        ByteTokenizer t = new ByteTokenizer(List.of("</s>"));
        assertThat(t.vocabSize()).isEqualTo(257);
        assertThat(t.padId()).hasValue(256);
        assertThat(t.encode("a</s>")).containsExactly('a', 256);
        assertThatThrownBy(() -> new ByteTokenizer(List.of())).hasMessageContaining("eos");
        assertThatThrownBy(() -> new ByteTokenizer(List.of("x", "x"))).hasMessageContaining("distinct");
    }
}
