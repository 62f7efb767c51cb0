package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.lora.LoraInit;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.cpu.CpuMamba2;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.plan.PrincipalFactors;

/**
 * PiSSA ({@code lora} with {@code init_lora_weights: pissa}) beyond the numeric contract, which checks its gradients:
 * the start (A, B the principal factors, the model the base model within float rounding), merge, and files.
 */
class PissaTest {

    /** |logits with PiSSA at its start − base logits|: W x + s·B0(A0 x) − s·B0(A0 x) rounds, measured ~1e-6. */
    static final double START_TOL = 1e-5;

    @TempDir
    Path tmp;

    private static final List<Projection> MAMBA1_ALL = List.of(Projection.IN_PROJ, Projection.X_PROJ,
            Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD);

    private static LoraConfig pissa(List<Projection> targets) {
        return new LoraConfig(2, 4, 0, targets, false, false, 1.0, LoraInit.PISSA);
    }

    private static Adapter adapter(LoraConfig config, org.ssmpeft.api.shape.ModelShape shape) {
        return TinyAdapters.FACTORY.create(new AdapterConfig("p", "lora", LayerSelection.ALL, config), shape,
                org.ssmpeft.api.composition.AdapterFactory.seeded(1));
    }

    @Test
    void atItsStartTheModelIsTheBaseModelAndAAndBAreThePrincipalFactors() {
        MambaWeights base = TinyAdapters.weights();
        Adapter a = adapter(pissa(MAMBA1_ALL), base.shape());
        assertThat(Float.isNaN(a.parameter("layers.1.x_proj.lora_A").data()[0])).as("unset before a model").isTrue();
        assertThatThrownBy(() -> AdapterFiles.save(a, tmp.resolve("unset"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("head.lora_A is not set yet");
        var model = new CpuMamba(base);
        int[][] tokens = TinyAdapters.tokens(3);
        float[] plain = model.forward(tokens, model.noAdapters()).values();
        float[] adapted = model.forward(tokens, new AdapterSet(base.shape()).add(a)).values();
        double scale = Math.max(1, Fixtures.maxAbsDiff(plain, new float[plain.length]));
        assertThat(Fixtures.maxAbsDiff(adapted, plain)).isLessThan(START_TOL * scale);
        // x_proj of layer 1: (dt_rank + 2N, D); A, B are its principal factors, s·B·A its best rank-2 approximation
        float[] w = base.layers().get(1).xProj();
        int in = base.config().dInner();
        int out = w.length / in;
        var f = PrincipalFactors.of(w, in, 0, out, 2, 2f);
        assertThat(a.parameter("layers.1.x_proj.lora_A").data()).isEqualTo(f.a0());
        assertThat(a.parameter("layers.1.x_proj.lora_B").data()).isEqualTo(f.b0());
        assertThat(f.singularValues()[0]).isGreaterThan(f.singularValues()[1]).isGreaterThan(0);
        // the start is not B = 0: moving B along its own values moves the model (the principal directions train)
        float[] b = a.parameter("layers.1.x_proj.lora_B").data();
        for (int i = 0; i < b.length; i++) {
            b[i] *= 2f;
        }
        float[] moved = model.forward(tokens, new AdapterSet(base.shape()).add(a)).values();
        assertThat(Fixtures.maxAbsDiff(moved, plain)).isGreaterThan(100 * START_TOL * scale);
    }

    @Test
    void atItsStartTheModelIsTheBaseModelOnMamba2() {
        for (var m : RandomModels.mamba2Defaults()) {
            Mamba2Weights base = (Mamba2Weights) m.weights();
            var model = new CpuMamba2(base);
            Adapter a = adapter(pissa(List.of(Projection.IN_PROJ_X, Projection.IN_PROJ_Z, Projection.IN_PROJ_B,
                    Projection.OUT_PROJ, Projection.HEAD)), base.shape());
            float[] plain = model.forward(m.tokens(), model.noAdapters()).values();
            float[] adapted = model.forward(m.tokens(), new AdapterSet(base.shape()).add(a)).values();
            double scale = Math.max(1, Fixtures.maxAbsDiff(plain, new float[plain.length]));
            assertThat(Fixtures.maxAbsDiff(adapted, plain)).as("%s", m).isLessThan(START_TOL * scale);
        }
    }

    /** After training-like changes of A and B the merged weights (W + s·B·A − s·B0·A0) give the hooked logits. */
    @Test
    void mergedPissaEqualsTheHookedModel() {
        MambaWeights base = TinyAdapters.weights();
        var model = new CpuMamba(base);
        Adapter a = adapter(pissa(MAMBA1_ALL), base.shape());
        int[][] tokens = TinyAdapters.tokens(3);
        model.forward(tokens, new AdapterSet(base.shape()).add(a)); // sets A0, B0
        var rng = new Random(5);
        a.parameters().values().forEach(t -> {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                d[i] += (float) (0.05 * rng.nextGaussian());
            }
        });
        float[] hooked = model.forward(tokens, new AdapterSet(base.shape()).add(a)).values();
        float[] merged = new CpuMamba(LoraMerge.merge(base, List.of(a))).forward(tokens, model.noAdapters())
                .values();
        double scale = Math.max(1, Fixtures.maxAbsDiff(hooked, new float[hooked.length]));
        assertThat(Fixtures.maxAbsDiff(merged, hooked)).isLessThan(LoraMergeTest.MERGE_TOL * scale);
        assertThat(Fixtures.maxAbsDiff(hooked, model.forward(tokens, model.noAdapters()).values()))
                .as("the changed adapter acts").isGreaterThan(1e3 * LoraMergeTest.MERGE_TOL * scale);
    }

    /** PEFT's config says init_lora_weights "pissa": loading it, PEFT takes the residual of W again, then A and B. */
    @Test
    void savedWithPeftsInitLoraWeightsPissaAndReloaded() throws Exception {
        MambaWeights base = TinyAdapters.weights();
        var model = new CpuMamba(base);
        Adapter a = adapter(pissa(List.of(Projection.IN_PROJ, Projection.X_PROJ)), base.shape());
        int[][] tokens = TinyAdapters.tokens(2);
        model.forward(tokens, new AdapterSet(base.shape()).add(a));
        Path dir = tmp.resolve("pissa");
        AdapterFiles.save(a, dir);
        JsonNode config = AdapterFiles.JSON.readTree(Files.readString(dir.resolve(AdapterFiles.CONFIG_FILE)));
        assertThat(config.path("init_lora_weights").asText()).as("%s", config).isEqualTo("pissa");
        Adapter loaded = AdapterFiles.load(dir, base.shape(), TinyAdapters.FACTORY);
        assertThat(((LoraConfig) loaded.config()).initLoraWeights()).isEqualTo(LoraInit.PISSA);
        assertThat(model.forward(tokens, new AdapterSet(base.shape()).add(loaded)).values())
                .isEqualTo(model.forward(tokens, new AdapterSet(base.shape()).add(a)).values());
    }

    @Test
    void pissaWithDoraIsRefusedNamingTheField() {
        assertThatThrownBy(() -> new LoraConfig(2, 4, 0, MAMBA1_ALL, false, true, 1.0, LoraInit.PISSA))
                .hasMessageContaining("init_lora_weights").hasMessageContaining("use_dora");
    }
}
