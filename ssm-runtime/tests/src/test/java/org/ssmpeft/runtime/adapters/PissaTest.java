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
import org.ssmpeft.runtime.checkpoint.MambaCheckpoint;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.contract.RandomModels;
import org.ssmpeft.runtime.cpu.CpuMamba;
import org.ssmpeft.runtime.cpu.CpuMamba2;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.plan.PrincipalFactors;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

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

    /**
     * PEFT 0.21's own PiSSA ({@code interop/peft-pissa}, made by {@code make_pissa_reference.py}: on a tiny random
     * MambaForCausalLM saved before PEFT took its residual, in_proj, x_proj, dt_proj, A and B then moved by
     * 0.1·N(0, 1)): its folder loads as PiSSA on the original W and gives PEFT's logits; the start's s·B0·A0 of
     * layer 0's x_proj is PEFT's. The reference also holds the same model computed in float64 from a float64 SVD.
     */
    @Test
    void peftsPissaFolderOnTheOriginalWeightsGivesPeftsLogits() throws Exception {
        Path dir = Interop.resource("peft-pissa");
        MambaWeights base = MambaCheckpoint.load(dir.resolve("base"));
        Adapter a = AdapterFiles.load(dir.resolve("adapter"), base.shape(), TinyAdapters.FACTORY);
        var c = (LoraConfig) a.config();
        assertThat(c.initLoraWeights()).isEqualTo(LoraInit.PISSA);
        int[][] tokens;
        float[] expected;
        float[] startProduct;
        float[] exact;
        try (var f = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            long[] ids = f.readLongs("input_ids");
            tokens = new int[2][7];
            for (int i = 0; i < ids.length; i++) {
                tokens[i / 7][i % 7] = Math.toIntExact(ids[i]);
            }
            expected = f.readFloats("logits");
            startProduct = f.readFloats("x_proj_start_product");
            exact = f.readFloats("exact_logits");
        }
        var model = new CpuMamba(base);
        float[] actual = model.forward(tokens, new AdapterSet(base.shape()).add(a)).values();
        double err = Fixtures.maxAbsDiff(actual, expected);
        double errExact = Fixtures.maxAbsDiff(actual, exact);
        double moved = Fixtures.maxAbsDiff(expected, model.forward(tokens, model.noAdapters()).values());
        System.out.printf("PiSSA against PEFT 0.21: max |logit difference| %.3e, against the float64 model %.3e"
                + " (the adapter moves the logits by %.3e)%n", err, errExact, moved);
        float[] w = base.layers().get(0).xProj();
        int in = base.config().dInner();
        var f = PrincipalFactors.of(w, in, 0, w.length / in, c.rank(), c.scaling());
        float[] product = new float[startProduct.length];
        for (int j = 0; j < w.length / in; j++) {
            for (int k = 0; k < in; k++) {
                double sum = 0;
                for (int q = 0; q < c.rank(); q++) {
                    sum += (double) f.b0()[j * c.rank() + q] * f.a0()[q * in + k];
                }
                product[j * in + k] = (float) (c.scaling() * sum);
            }
        }
        assertThat(Fixtures.maxAbsDiff(product, startProduct)).as("s·B0·A0 against PEFT's").isLessThan(1e-5);
        // PEFT's float32 SVD and residual are 7.2e-5 off the float64 model (the reference's manifest): this runtime
        // is held to the float64 model, and to PEFT within PEFT's own error
        assertThat(errExact).as("against the float64 model").isLessThan(DoraTest.PEFT_TOL);
        assertThat(err).as("against PEFT").isLessThan(PEFT_PISSA_TOL);
        assertThat(moved).isGreaterThan(1e3 * PEFT_PISSA_TOL);
    }

    /** PEFT 0.21's PiSSA logits against the float64 model: 7.2e-5 (its float32 SVD and W − s·B0·A0 round). */
    static final double PEFT_PISSA_TOL = 1e-4;

    @Test
    void pissaWithDoraIsRefusedNamingTheField() {
        assertThatThrownBy(() -> new LoraConfig(2, 4, 0, MAMBA1_ALL, false, true, 1.0, LoraInit.PISSA))
                .hasMessageContaining("init_lora_weights").hasMessageContaining("use_dora");
    }
}
