package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.Logits;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.tokenize.ByteTokenizer;

/**
 * The encoder's labels in {@link SsmModel}'s convention give the paper code's loss: on the transformers fixture
 * (vocabulary 256, so ASCII classification examples, whose ids stay below 128), the model's loss of
 * (tokens, labels) equals the cross-entropy the reference computes on (ids[:-1], right-aligned label ids) from the
 * same logits; padding adds nothing.
 */
class EncodedLossTest {

    private static SsmModel model;

    @BeforeAll
    static void load() throws Exception {
        model = Backends.forName("cpu").create(MambaCheckpoint.load(Fixtures.mambaTiny()));
    }

    private static List<EncodedExample> examples() {
        Encoder enc = new Encoder(ByteTokenizer.standard(), new PromptFormat("", "Say 0 or 1: ", "###", false));
        return enc.encodeAll(List.of(new Example("yes", "1"), new Example("a longer input###pair", "0110"))).examples();
    }

    /** Mean cross-entropy over the reference's scored positions: logits of ids[:-1] against right-aligned labels. */
    private static double[] referenceSumAndCount(EncodedExample e) {
        int[] in = e.referenceInputIds();
        int[] target = e.referenceLabelIds();
        Logits logits = model.forward(new int[][] {in}, model.noAdapters(), model.newState(1));
        double sum = 0;
        int count = 0;
        for (int t = 0; t < in.length; t++) {
            if (target[t] == SsmModel.IGNORE_INDEX) {
                continue;
            }
            float[] z = logits.at(0, t);
            double max = Double.NEGATIVE_INFINITY;
            for (float v : z) {
                max = Math.max(max, v);
            }
            double lse = 0;
            for (float v : z) {
                lse += Math.exp(v - max);
            }
            sum += Math.log(lse) + max - z[target[t]];
            count++;
        }
        return new double[] {sum, count};
    }

    @Test
    void oneExampleHasTheReferenceLoss() {
        EncodedExample e = examples().get(0);
        double[] ref = referenceSumAndCount(e);
        assertThat(ref[1]).isEqualTo(1);
        double loss = model.loss(new int[][] {e.tokens()}, new int[][] {e.labels()}, model.noAdapters());
        assertThat(loss).isCloseTo(ref[0] / ref[1], within(1e-5));
    }

    @Test
    void aPaddedBatchHasTheTokenMeanOfItsRows() {
        List<EncodedExample> rows = examples();
        Batch b = new Collator(0).collate(rows, 0, 0);
        double sum = 0;
        double count = 0;
        for (EncodedExample e : rows) {
            double[] ref = referenceSumAndCount(e);
            sum += ref[0];
            count += ref[1];
        }
        double loss = model.loss(b.tokens(), b.labels(), model.noAdapters());
        assertThat(loss).isCloseTo(sum / count, within(1e-5));
    }
}
