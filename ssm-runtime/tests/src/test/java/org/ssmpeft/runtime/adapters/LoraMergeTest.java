package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * LoRA merged into the base weights computes what the hooked model computes, within float32 rounding: on the
 * mamba-tiny fixture with random LoRA values (0.05·N(0, 1); scale 2, and rsLoRA 2.83 on blocks and the head), the
 * merged logits are within {@value #MERGE_TOL} absolute of the hooked ones (measured 9.5e-7, while the adapters move
 * the logits by 0.72). Unmerging restores the weights bit for
 * bit; the exported checkpoint reloads to the same logits bit for bit.
 */
class LoraMergeTest {

    /** Float32 rounding of the reassociated products, accumulated through two layers. */
    static final double MERGE_TOL = 1e-5;

    @TempDir
    Path tmp;

    private static float[] logits(CpuMamba model, AdapterSet set, int[][] tokens) {
        return model.forward(tokens, set, model.newState(tokens.length)).values();
    }

    @Test
    void mergedLogitsEqualTheHookedLogitsWithinFloat32Rounding() {
        MambaWeights base = TinyAdapters.weights();
        Adapter whole = TinyAdapters.loraWhole("whole", 1);
        Adapter blocks = TinyAdapters.loraBlocks("blocks", 2);
        var set = new AdapterSet(TinyAdapters.shape()).add(whole).add(blocks);
        int[][] tokens = TinyAdapters.tokens(5);
        CpuMamba hooked = new CpuMamba(base);
        float[] expected = logits(hooked, set, tokens);

        MambaWeights merged = LoraMerge.merge(base, List.of(whole, blocks));
        float[] actual = logits(new CpuMamba(merged), hooked.noAdapters(), tokens);

        double err = Fixtures.maxAbsDiff(actual, expected);
        double change = Fixtures.maxAbsDiff(expected, logits(hooked, hooked.noAdapters(), tokens));
        System.out.printf("LoRA merge: merged vs hooked logits max abs %.3e (the adapters move logits by %.3e)%n",
                err, change);
        assertThat(err).isLessThan(MERGE_TOL);
        assertThat(change).isGreaterThan(1000 * MERGE_TOL);
        // the base is untouched, the head is untied (it had a delta), weights without a delta are shared
        assertThat(base.config().tieWordEmbeddings()).isTrue();
        assertThat(merged.config().tieWordEmbeddings()).isFalse();
        assertThat(merged.lmHead()).isNotSameAs(merged.embedding());
        assertThat(merged.embedding()).isSameAs(base.embedding());
        assertThat(merged.layers().get(0).aLog()).isSameAs(base.layers().get(0).aLog());
        assertThat(logits(hooked, hooked.noAdapters(), tokens)).isEqualTo(
                logits(new CpuMamba(TinyAdapters.weights()), hooked.noAdapters(), tokens));
    }

    @Test
    void mergeInPlaceThenUnmergeRestoresTheWeightsBitForBit() {
        MambaWeights weights = TinyAdapters.weights();
        Map<String, float[]> original = new java.util.LinkedHashMap<>();
        weights.parameters().forEach((n, t) -> original.put(n, t.data().clone()));
        Adapter lora = TinyAdapters.loraWhole("lora", 3);
        CpuMamba model = new CpuMamba(weights);
        int[][] tokens = TinyAdapters.tokens(6);
        float[] base = logits(model, model.noAdapters(), tokens);
        float[] hooked = logits(model, new AdapterSet(TinyAdapters.shape()).add(lora), tokens);

        LoraMerge.Merged merged = LoraMerge.mergeInPlace(weights, List.of(lora));
        float[] mergedLogits = logits(model, model.noAdapters(), tokens);
        merged.unmerge();

        assertThat(Fixtures.maxAbsDiff(mergedLogits, hooked)).isLessThan(MERGE_TOL);
        assertThat(merged.isMerged()).isFalse();
        weights.parameters().forEach((n, t) -> assertThat(t.data()).as(n).isEqualTo(original.get(n)));
        assertThat(logits(model, model.noAdapters(), tokens)).isEqualTo(base);
        assertThatThrownBy(merged::unmerge).isInstanceOf(IllegalStateException.class).hasMessage("already unmerged");
    }

    @Test
    void theMergedModelExportsAsAHuggingFaceCheckpointThatReloadsToTheSameLogits() throws Exception {
        MambaWeights base = TinyAdapters.weights();
        Adapter blocks = TinyAdapters.loraBlocks("blocks", 4);
        Path dir = tmp.resolve("merged");

        MambaWeights merged = LoraMerge.export(base, List.of(blocks), dir);
        MambaWeights reloaded = MambaCheckpoint.load(dir);

        assertThat(MambaConfig.read(dir.resolve("config.json")).tieWordEmbeddings()).isFalse();
        int[][] tokens = TinyAdapters.tokens(7);
        CpuMamba model = new CpuMamba(reloaded);
        assertThat(logits(model, model.noAdapters(), tokens)).isEqualTo(logits(new CpuMamba(merged),
                model.noAdapters(), tokens));
        CpuMamba hooked = new CpuMamba(base);
        assertThat(Fixtures.maxAbsDiff(logits(model, model.noAdapters(), tokens),
                logits(hooked, new AdapterSet(TinyAdapters.shape()).add(blocks), tokens))).isLessThan(MERGE_TOL);
    }

    @Test
    void aHeadDeltaOnATiedModelIsRefusedInPlace() {
        MambaWeights weights = TinyAdapters.weights();
        assertThatThrownBy(() -> LoraMerge.mergeInPlace(weights, List.of(TinyAdapters.loraBlocks("blocks", 4))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot merge in place: the head has a low-rank delta, but this model ties lm_head to the"
                        + " embedding (tie_word_embeddings), so merging would change the embedding too; use"
                        + " LoraMerge.merge, which unties the head");
    }

    @Test
    void adaptersWithOtherHooksAreRefused() {
        MambaWeights weights = TinyAdapters.weights();
        assertThatThrownBy(() -> LoraMerge.merge(weights, List.of(TinyAdapters.loraWhole("lora", 1),
                TinyAdapters.stateOffsetH("offset", 2))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("adapter 'offset' (state-offset) feeds state:offset hooks, which cannot be folded into"
                        + " weights; only low-rank deltas (projection hooks, e.g. lora) merge");
        Tensor before = weights.parameters().get("backbone.layers.0.mixer.in_proj.weight");
        assertThat(before.data()).isEqualTo(TinyAdapters.weights().layers().get(0).inProj());
    }
}
