package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.finetune.PartialFineTuningConfig;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.runtime.backend.ModelSpec;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.cpu.CpuMamba2;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * DoRA ({@code lora} with {@code use_dora}) beyond the numeric contract: against Hugging Face PEFT's own DoRA
 * ({@code interop/peft-dora}, made by {@code make_dora_reference.py}: PEFT 0.21 {@code use_dora=True} on a tiny
 * random MambaForCausalLM, loaded from PEFT's files and compared with PEFT's logits), the magnitude's start at the
 * base norms, the files in PEFT's layout, merge and unmerge on both families, and the combinations refused.
 */
class DoraTest {

    /** PEFT's logits against ours: float32 rounding of differently ordered sums (measured 1.9e-6 of max 2.1). */
    static final double PEFT_TOL = 1e-5;

    @TempDir
    Path tmp;

    private static final List<Projection> MAMBA1_ALL = List.of(Projection.IN_PROJ, Projection.X_PROJ,
            Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD);

    /** A DoRA adapter with A, B of 0.05·N(0, 1) and magnitudes 1 + 0.2·N(0, 1) times the base norms. */
    private static Adapter dora(LoraConfig config, ModelSpec spec, SsmModel model, long seed) {
        Adapter a = TinyAdapters.FACTORY.create(new AdapterConfig("dora-" + seed, "lora", LayerSelection.ALL, config),
                spec.shape(), org.ssmpeft.api.composition.AdapterFactory.seeded(seed));
        var rng = new Random(seed);
        a.parameters().forEach((n, t) -> {
            if (!n.endsWith("lora_magnitude_vector")) {
                float[] d = t.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) (0.05 * rng.nextGaussian());
                }
            }
        });
        model.forward(new int[][] {{1}}, new AdapterSet(spec.shape()).add(a)); // sets m = ||W||
        a.parameters().forEach((n, t) -> {
            if (n.endsWith("lora_magnitude_vector")) {
                float[] d = t.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] *= (float) (1 + 0.2 * rng.nextGaussian());
                }
            }
        });
        return a;
    }

    @Test
    void peftsDoraFolderLoadsAndGivesPeftsLogits() throws Exception {
        Path dir = Interop.resource("peft-dora");
        MambaWeights base = MambaCheckpoint.load(dir.resolve("base"));
        Adapter a = AdapterFiles.load(dir.resolve("adapter"), base.shape(), TinyAdapters.FACTORY);
        var c = (LoraConfig) a.config();
        assertThat(c.useDora()).isTrue();
        assertThat(c.targets()).containsExactlyInAnyOrder(Projection.IN_PROJ, Projection.X_PROJ, Projection.DT_PROJ);
        int[][] tokens;
        float[] expected;
        try (var f = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            long[] ids = f.readLongs("input_ids");
            tokens = new int[2][7];
            for (int i = 0; i < ids.length; i++) {
                tokens[i / 7][i % 7] = Math.toIntExact(ids[i]);
            }
            expected = f.readFloats("logits");
        }
        var model = new CpuMamba(base);
        float[] actual = model.forward(tokens, new AdapterSet(base.shape()).add(a)).values();
        double err = Fixtures.maxAbsDiff(actual, expected);
        double moved = Fixtures.maxAbsDiff(expected, model.forward(tokens, model.noAdapters()).values());
        System.out.printf("DoRA against PEFT 0.21: max |logit difference| %.3e (DoRA moves the logits by %.3e)%n",
                err, moved);
        assertThat(err).isLessThan(PEFT_TOL);
        assertThat(moved).isGreaterThan(1e3 * PEFT_TOL);
        // merged, PEFT's adapter gives PEFT's logits too
        float[] merged = new CpuMamba(LoraMerge.merge(base, List.of(a))).forward(tokens,
                model.noAdapters()).values();
        assertThat(Fixtures.maxAbsDiff(merged, expected)).isLessThan(PEFT_TOL);
    }

    @Test
    void theMagnitudeStartsAtTheBaseRowNormsOnFirstContact() {
        MambaWeights base = TinyAdapters.weights();
        Adapter a = TinyAdapters.FACTORY.create(new AdapterConfig("d", "lora", LayerSelection.ALL,
                new LoraConfig(2, 4, 0, MAMBA1_ALL, false, true)), base.shape(),
                org.ssmpeft.api.composition.AdapterFactory.seeded(1));
        Tensor m = a.parameter("layers.1.x_proj.lora_magnitude_vector");
        assertThat(Float.isNaN(m.data()[0])).as("unset before the adapter meets a model").isTrue();
        assertThatThrownBy(() -> AdapterFiles.save(a, tmp.resolve("unset"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("head.lora_magnitude_vector is not set yet");
        var model = new CpuMamba(base);
        int[][] tokens = TinyAdapters.tokens(3);
        float[] plain = model.forward(tokens, model.noAdapters()).values();
        assertThat(model.forward(tokens, new AdapterSet(base.shape()).add(a)).values()).isEqualTo(plain);
        float[] w = base.layers().get(1).xProj();
        int in = base.config().dInner();
        for (int j = 0; j < m.size(); j++) {
            double s = 0;
            for (int k = 0; k < in; k++) {
                s += (double) w[j * in + k] * w[j * in + k];
            }
            assertThat(m.data()[j]).as("m[%d] = ||W[%d]||", j, j).isCloseTo((float) Math.sqrt(s),
                    org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    @Test
    void savedInPeftsLayoutWithTheMagnitudeKeysAndReloadedBitForBit() throws Exception {
        MambaWeights base = TinyAdapters.weights();
        var model = new CpuMamba(base);
        Adapter a = dora(new LoraConfig(2, 4, 0, List.of(Projection.IN_PROJ, Projection.DT_PROJ), false, true),
                base, model, 4);
        Path dir = tmp.resolve("dora");
        AdapterFiles.save(a, dir);
        JsonNode config = AdapterFiles.JSON.readTree(Files.readString(dir.resolve(AdapterFiles.CONFIG_FILE)));
        assertThat(config.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(config.get("use_dora").asBoolean()).isTrue();
        try (var f = SafetensorsFile.open(dir.resolve(AdapterFiles.WEIGHTS_FILE))) {
            assertThat(f.names()).contains("base_model.model.backbone.layers.0.mixer.in_proj.lora_magnitude_vector",
                    "base_model.model.backbone.layers.1.mixer.dt_proj.lora_magnitude_vector");
            assertThat(f.info("base_model.model.backbone.layers.0.mixer.in_proj.lora_magnitude_vector").shape())
                    .containsExactly(2L * base.config().dInner());
        }
        Adapter loaded = AdapterFiles.load(dir, base.shape(), TinyAdapters.FACTORY);
        int[][] tokens = TinyAdapters.tokens(2);
        assertThat(model.forward(tokens, new AdapterSet(base.shape()).add(loaded)).values())
                .isEqualTo(model.forward(tokens, new AdapterSet(base.shape()).add(a)).values());
    }

    @Test
    void mergedDoraEqualsTheHookedModelAndUnmergesBitForBitOnMamba1() {
        MambaWeights base = TinyAdapters.weights();
        var model = new CpuMamba(base);
        Adapter whole = dora(new LoraConfig(2, 4, 0, MAMBA1_ALL, false, true), base, model, 5);
        Adapter blocks = dora(new LoraConfig(2, 2, 0, List.of(Projection.IN_PROJ_Z, Projection.X_PROJ_B), true,
                true), base, model, 6);
        int[][] tokens = TinyAdapters.tokens(5);
        AdapterSet set = new AdapterSet(base.shape()).add(whole).add(blocks);
        float[] hooked = model.forward(tokens, set).values();
        float[] plain = model.forward(tokens, model.noAdapters()).values();
        float[] merged = new CpuMamba(LoraMerge.merge(base, List.of(whole, blocks))).forward(tokens,
                model.noAdapters()).values();
        assertThat(Fixtures.maxAbsDiff(merged, hooked)).isLessThan(LoraMergeTest.MERGE_TOL);
        assertThat(Fixtures.maxAbsDiff(hooked, plain)).isGreaterThan(1e-2);

        var before = base.parameters().values().stream().map(t -> t.data().clone()).toList();
        Adapter noHead = dora(new LoraConfig(2, 4, 0, MAMBA1_ALL.subList(0, 4), false, true), base, model, 7);
        float[] hookedNoHead = model.forward(tokens, new AdapterSet(base.shape()).add(noHead)).values();
        LoraMerge.Merged inPlace = LoraMerge.mergeInPlace(base, List.of(noHead));
        assertThat(Fixtures.maxAbsDiff(model.forward(tokens, model.noAdapters()).values(), hookedNoHead))
                .isLessThan(LoraMergeTest.MERGE_TOL);
        inPlace.unmerge();
        var after = base.parameters().values().stream().map(Tensor::data).toList();
        for (int i = 0; i < before.size(); i++) {
            assertThat(after.get(i)).isEqualTo(before.get(i));
        }
    }

    @Test
    void mergedDoraEqualsTheHookedModelOnMamba2() {
        for (var m : RandomModels.mamba2Defaults()) {
            Mamba2Weights base = (Mamba2Weights) m.weights();
            var model = new CpuMamba2(base);
            Adapter a = dora(new LoraConfig(2, 4, 0, List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_DT,
                    Projection.OUT_PROJ, Projection.HEAD), false, true), base, model, 8);
            float[] hooked = model.forward(m.tokens(), new AdapterSet(base.shape()).add(a)).values();
            float[] merged = new CpuMamba2(LoraMerge.merge(base, List.of(a))).forward(m.tokens(),
                    new AdapterSet(base.shape())).values();
            double scale = Math.max(1, Fixtures.maxAbsDiff(hooked, new float[hooked.length]));
            assertThat(Fixtures.maxAbsDiff(merged, hooked)).as("%s", m).isLessThan(LoraMergeTest.MERGE_TOL * scale);
        }
    }

    @Test
    void aDoraWeightCannotAlsoBeTrainedOrChangedByAParameterDelta() {
        MambaWeights base = TinyAdapters.weights();
        var model = new CpuMamba(base);
        Adapter a = dora(new LoraConfig(2, 4, 0, List.of(Projection.X_PROJ), false, true), base, model, 9);
        int[][] tokens = TinyAdapters.tokens(1);
        AdapterSet set = new AdapterSet(base.shape()).add(a);
        assertThatThrownBy(() -> model.lossAndGradients(tokens, tokens, set,
                java.util.Set.of("backbone.layers.0.mixer.x_proj.weight")))
                .hasMessageContaining("base parameter 'backbone.layers.0.mixer.x_proj.weight' cannot be trained"
                        + " while a DoRA delta");
        Adapter ft = TinyAdapters.adapter("ft", "partial-ft", LayerSelection.ALL, new PartialFineTuningConfig(
                List.of(LayerParameter.X_PROJ_WEIGHT), List.of()), 2);
        assertThatThrownBy(() -> model.forward(tokens, new AdapterSet(base.shape()).add(a).add(ft)))
                .hasMessageContaining("whose weight backbone.layers.0.mixer.x_proj.weight a parameter delta also"
                        + " changes");
    }

    @Test
    void theRowNormsAreThoseOfWPlusSBA() {
        float[] w = {3, 4, 0, 1}; // rows (3, 4) and (0, 1)
        float[] b = {1, 0}; // (2, 1)
        float[] a = {1, 1}; // (1, 2)
        assertThat(HookPlan.rowNorms(w, 2, 0, 2, null, null, 0)).containsExactly(5f, 1f);
        // s = 2: rows (5, 6) and (0, 1)
        assertThat(HookPlan.rowNorms(w, 2, 0, 2, b, a, 2f)).containsExactly((float) Math.sqrt(61), 1f);
        assertThat(HookPlan.rowNorms(w, 2, 1, 1, new float[] {1}, a, 1f)).containsExactly((float) Math.sqrt(5));
    }
}
