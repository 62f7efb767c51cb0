package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.ConfigFormat;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.runtime.checkpoint.Mamba2Checkpoint;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.contract.RandomModels.FamilyCase;
import org.ssmpeft.runtime.cpu.CpuMamba2;
import org.ssmpeft.runtime.fixtures.Fixtures;

/**
 * Mamba-2 checkpoints written and LoRA merged into Mamba-2 weights: a saved model reloads bit for bit (the fixture
 * and the random models, tied and untied), and LoRA on in_proj's z, x, B, C, dt blocks (or the whole in_proj),
 * out_proj and the head, merged, gives the hooked model's logits within {@value LoraMergeTest#MERGE_TOL} · max(1,
 * max |logit|); the exported folder reloads to the merged model's logits bit for bit.
 */
class Mamba2MergeTest {

    private static final AdapterFactory FACTORY = new AdapterFactory(PeftMethods.load());

    @TempDir
    Path tmp;

    private static Adapter lora(String yaml, Mamba2Weights w, long seed) {
        AdapterConfig parsed = FACTORY.reader().parse(yaml, ConfigFormat.YAML).getFirst();
        return RandomModels.randomize(FACTORY.create(new AdapterConfig("lora-" + seed, parsed.method(),
                parsed.layers(), parsed.config()), w.shape(), AdapterFactory.seeded(seed)), 0.1, seed);
    }

    private static float[] logits(Mamba2Weights w, AdapterSet set, int[][] tokens) {
        return new CpuMamba2(w).forward(tokens, set).values();
    }

    @Test
    void aSavedMamba2CheckpointReloadsBitForBit() throws Exception {
        Mamba2Weights fixture = Mamba2Checkpoint.load(Fixtures.folder("mamba2-groups2-bias-untied"));
        List<Mamba2Weights> models = new java.util.ArrayList<>(List.of(fixture));
        for (FamilyCase m : RandomModels.mamba2Defaults()) {
            models.add((Mamba2Weights) m.weights());
        }
        int i = 0;
        for (Mamba2Weights w : models) {
            Path dir = tmp.resolve("saved-" + i++);
            Mamba2Checkpoint.save(w, dir);
            Mamba2Weights loaded = Mamba2Checkpoint.load(dir);
            assertThat(loaded.config()).isEqualTo(w.config());
            assertThat(loaded.parameters().keySet()).containsExactlyElementsOf(w.parameters().keySet());
            w.parameters().forEach((name, t) -> {
                assertThat(loaded.parameters().get(name).shape()).as(name).containsExactly(t.shape());
                assertThat(loaded.parameters().get(name).data()).as(name).isEqualTo(t.data());
            });
            assertThat(Files.exists(dir.resolve("model.safetensors"))).isTrue();
        }
    }

    @Test
    void mergedLoraOnTheInProjBlocksOutProjAndHeadEqualsTheHookedModel() throws Exception {
        for (FamilyCase m : RandomModels.mamba2Defaults()) {
            Mamba2Weights base = (Mamba2Weights) m.weights();
            Adapter blocks = lora("method: lora\nrank: 2\nalpha: 3\ntargets: [in_proj.z, in_proj.x, in_proj.B,"
                    + " in_proj.C, in_proj.dt, out_proj, head]\n", base, 5);
            Adapter whole = lora("method: lora\nrank: 3\nuse_rslora: true\ntargets: [in_proj]\n", base, 6);
            AdapterSet set = new AdapterSet(base.shape()).add(blocks).add(whole);
            float[] hooked = logits(base, set, m.tokens());
            float[] plain = logits(base, new AdapterSet(base.shape()), m.tokens());

            Mamba2Weights merged = LoraMerge.merge(base, List.of(blocks, whole));
            float[] actual = logits(merged, new AdapterSet(merged.shape()), m.tokens());
            double scale = Math.max(1, maxAbs(hooked));
            assertThat(Fixtures.maxAbsDiff(actual, hooked)).as("%s: merged against hooked", m)
                    .isLessThanOrEqualTo(LoraMergeTest.MERGE_TOL * scale);
            assertThat(Fixtures.maxAbsDiff(hooked, plain)).as("the adapters act").isGreaterThan(1e-2);
            // the head had a delta: a tied base is untied in the copy and left as it was
            assertThat(merged.config().tieWordEmbeddings()).isFalse();
            assertThat(merged.embedding()).isSameAs(base.embedding());
            assertThat(merged.layers().get(0).convWeight()).isSameAs(base.layers().get(0).convWeight());
            assertThat(logits(base, new AdapterSet(base.shape()), m.tokens())).as("the base is untouched")
                    .isEqualTo(plain);

            Path dir = tmp.resolve("merged-" + m.config().tieWordEmbeddings());
            LoraMerge.export(base, List.of(blocks, whole), dir);
            Mamba2Weights reloaded = Mamba2Checkpoint.load(dir);
            assertThat(logits(reloaded, new AdapterSet(reloaded.shape()), m.tokens()))
                    .as("the exported checkpoint").isEqualTo(actual);
        }
    }

    /** In place: the model built on the weights sees the merge; unmerging restores every weight bit for bit. */
    @Test
    void mergingInPlaceActsOnTheWeightsAndUnmergingRestoresThemBitForBit() {
        FamilyCase m = RandomModels.mamba2Defaults().getFirst(); // untied head
        Mamba2Weights base = (Mamba2Weights) m.weights();
        var before = new java.util.LinkedHashMap<String, float[]>();
        base.parameters().forEach((n, t) -> before.put(n, t.data().clone()));
        Adapter blocks = lora("method: lora\nrank: 2\ntargets: [in_proj.x, in_proj.dt, out_proj, head]\n", base, 7);
        float[] hooked = logits(base, new AdapterSet(base.shape()).add(blocks), m.tokens());
        CpuMamba2 model = new CpuMamba2(base);
        LoraMerge.Merged merged = LoraMerge.mergeInPlace(base, List.of(blocks));
        float[] inPlace = model.forward(m.tokens(), new AdapterSet(base.shape())).values();
        assertThat(Fixtures.maxAbsDiff(inPlace, hooked)).isLessThanOrEqualTo(LoraMergeTest.MERGE_TOL
                * Math.max(1, maxAbs(hooked)));
        merged.unmerge();
        base.parameters().forEach((n, t) -> assertThat(t.data()).as(n).isEqualTo(before.get(n)));
        Mamba2Weights tied = (Mamba2Weights) RandomModels.mamba2Defaults().get(1).weights();
        Adapter head = lora("method: lora\nrank: 2\ntargets: [head]\n", tied, 8);
        assertThatThrownBy(() -> LoraMerge.mergeInPlace(tied, List.of(head)))
                .hasMessageContaining("ties lm_head to the embedding");
    }

    @Test
    void onlyLowRankDeltasMergeIntoMamba2Weights() {
        Mamba2Weights base = (Mamba2Weights) RandomModels.mamba2Defaults().getFirst().weights();
        AdapterConfig parsed = FACTORY.reader().parse("method: state-offset\n", ConfigFormat.YAML).getFirst();
        Adapter offset = FACTORY.create(new AdapterConfig("offset", parsed.method(), parsed.layers(),
                parsed.config()), base.shape(), AdapterFactory.seeded(1));
        assertThatThrownBy(() -> LoraMerge.merge(base, List.of(offset))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adapter 'offset' (state-offset) feeds").hasMessageContaining("only low-rank");
    }

    private static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
