package org.ssmpeft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.ssmpeft.runtime.tokenize.ByteTokenizer;

class BatchesTest {

    private static List<EncodedExample> data(int n) {
        Encoder enc = new Encoder(ByteTokenizer.standard(), PromptFormat.generation(""));
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            examples.add(new Example("q" + "?".repeat(i % 4), "a" + i));
        }
        return enc.encodeAll(examples).examples();
    }

    @Test
    void collatorPadsTokensWithThePadIdAndLabelsWithMinus100OnTheRight() {
        List<EncodedExample> rows = data(3);
        Batch b = new Collator(ByteTokenizer.PAD_ID).collate(List.of(rows.get(0), rows.get(2)), 4, 5);
        // row 0: "q###a0<eos>" = 7 tokens; row 2: "q??###a2<eos>" = 9 tokens
        assertThat(b.length()).isEqualTo(9);
        assertThat(b.tokens()[0]).containsExactly('q', '#', '#', '#', 'a', '0', 256, 257, 257);
        assertThat(b.labels()[0]).containsExactly(-100, -100, -100, -100, 'a', '0', 256, -100, -100);
        assertThat(b.tokens()[1]).containsExactly(rows.get(2).tokens());
        assertThat(b.labels()[1]).containsExactly(rows.get(2).labels());
        assertThat(b.sources()).containsExactly(0, 2);
        assertThat(b.epoch()).isEqualTo(4);
        assertThat(b.index()).isEqualTo(5);
    }

    @Test
    void theShuffleIsAPermutationFixedBySeedAndEpoch() {
        int[] p = ShuffleOrder.permutation(1000, 42, 3);
        assertThat(Arrays.stream(p).sorted().toArray()).containsExactly(IntStream.range(0, 1000).toArray());
        assertThat(ShuffleOrder.permutation(1000, 42, 3)).containsExactly(p);
        assertThat(ShuffleOrder.permutation(1000, 42, 4)).isNotEqualTo(p);
        assertThat(ShuffleOrder.permutation(1000, 43, 3)).isNotEqualTo(p);
        assertThat(ShuffleOrder.permutation(0, 1, 0)).isEmpty();
        assertThat(ShuffleOrder.permutation(1, 1, 0)).containsExactly(0);
    }

    @Test
    void theShuffleDoesNotChangeBetweenReleases() {
        // pinned: a change here breaks resuming checkpoints written by an earlier build
        assertThat(ShuffleOrder.permutation(10, 42, 0)).containsExactly(PINNED_42_0);
        assertThat(ShuffleOrder.permutation(10, 42, 1)).containsExactly(PINNED_42_1);
    }

    static final int[] PINNED_42_0 = {2, 0, 5, 1, 7, 4, 8, 6, 3, 9};
    static final int[] PINNED_42_1 = {3, 0, 6, 8, 4, 7, 1, 9, 2, 5};

    @Test
    void anEpochVisitsEveryExampleOnceAndDropsTheLastIncompleteBatch() {
        Batches batches = Batches.training(data(10), 4, 42, ByteTokenizer.PAD_ID);
        assertThat(batches.batchesPerEpoch()).isEqualTo(2);
        List<Integer> seen = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Batch b = batches.batch(new Batches.Position(0, i));
            assertThat(b.size()).isEqualTo(4);
            Arrays.stream(b.sources()).forEach(seen::add);
        }
        assertThat(seen).doesNotHaveDuplicates().hasSize(8);
        assertThat(seen).containsExactly(Arrays.stream(Arrays.copyOf(batches.order(0), 8)).boxed()
                .toArray(Integer[]::new));
        Batches keepLast = new Batches(data(10), 4, 42, true, false, new Collator(0));
        assertThat(keepLast.batchesPerEpoch()).isEqualTo(3);
        assertThat(keepLast.batch(new Batches.Position(0, 2)).size()).isEqualTo(2);
    }

    @Test
    void withoutShufflingTheOrderIsTheFileOrder() {
        Batches b = new Batches(data(5), 2, 42, false, false, new Collator(0));
        assertThat(b.order(3)).containsExactly(0, 1, 2, 3, 4);
        assertThat(b.batch(new Batches.Position(1, 2)).sources()).containsExactly(4);
    }

    @Test
    void resumingMidEpochReproducesTheRunBitForBit() {
        List<EncodedExample> data = data(23);
        Batches first = Batches.training(data, 3, 7, 257);
        List<Batch> straight = new ArrayList<>();
        Iterator<Batch> it = first.from(Batches.Position.start());
        for (int i = 0; i < 20; i++) {
            straight.add(it.next());
        }
        // a fresh object (as after a restart), resumed from global step 11 = epoch 1, batch 4 (7 batches per epoch)
        Batches resumed = Batches.training(data, 3, 7, 257);
        Batches.Position at = resumed.positionOfStep(11);
        assertThat(at).isEqualTo(new Batches.Position(1, 4));
        assertThat(resumed.stepOf(at)).isEqualTo(11);
        Iterator<Batch> again = resumed.from(at);
        for (int i = 11; i < 20; i++) {
            Batch a = straight.get(i);
            Batch b = again.next();
            assertThat(b.tokens()).as("step " + i).isDeepEqualTo(a.tokens());
            assertThat(b.labels()).isDeepEqualTo(a.labels());
            assertThat(b.sources()).containsExactly(a.sources());
            assertThat(b.epoch()).isEqualTo(a.epoch());
            assertThat(b.index()).isEqualTo(a.index());
        }
        assertThat(straight.get(7).epoch()).isEqualTo(1);
        assertThat(straight.get(7).sources()).isNotEqualTo(straight.get(0).sources());
    }

    @Test
    void positionsAdvanceAcrossEpochs() {
        Batches b = Batches.training(data(6), 2, 1, 0);
        assertThat(b.next(new Batches.Position(0, 1))).isEqualTo(new Batches.Position(0, 2));
        assertThat(b.next(new Batches.Position(0, 2))).isEqualTo(new Batches.Position(1, 0));
        assertThatThrownBy(() -> b.batch(new Batches.Position(0, 3))).hasMessageContaining("batch 3 of an epoch of 3");
    }

    @Test
    void tooFewExamplesForOneBatchAreRefused() {
        assertThatThrownBy(() -> Batches.training(data(3), 4, 1, 0)).hasMessageContaining("no batch of 4")
                .hasMessageContaining("3 examples");
    }

    @Test
    void asABatchSourceTheTrainerSeesTheSameBatchesAndItsSeedMustMatch() {
        Batches batches = Batches.training(data(11), 3, 42, ByteTokenizer.PAD_ID);
        var source = batches.asBatchSource();
        assertThat(source.batchesPerEpoch()).isEqualTo(3);
        Batch direct = batches.batch(new Batches.Position(2, 1));
        var viaSource = source.batch(42, 2, 1);
        assertThat(viaSource.tokens()).isDeepEqualTo(direct.tokens());
        assertThat(viaSource.labels()).isDeepEqualTo(direct.labels());
        assertThatThrownBy(() -> source.batch(7, 0, 0))
                .hasMessage("these batches are shuffled with seed 42 but the trainer runs with seed 7; build them"
                        + " with the run's seed");
    }
}
