package org.ssmpeft.runtime.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.runtime.backend.BackendProvider;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.checkpoint.Mamba2Checkpoint;
import org.ssmpeft.runtime.checkpoint.Mamba2Weights;
import org.ssmpeft.runtime.fixtures.Fixtures;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * LoRA on Mamba-2's in_proj row blocks (z, x, B, C, dt) and out_proj against transformers' autograd:
 * {@code mamba2-groups2-bias-untied/lora-blocks-grads.safetensors} ({@code make_reference_mamba2_lora_blocks.py}: r 2,
 * alpha 4, each block's delta added by a forward hook to its rows of in_proj). On every backend that implements
 * Mamba-2: logits within 1e-5 · max(1, max |logit|), loss within 1e-5, every lora_A and lora_B gradient within 1e-4 of
 * its tensor's max |value|, relative.
 */
class Mamba2LoraBlocksFixtureTest {

    private static final List<Projection> TARGETS = List.of(Projection.IN_PROJ_Z, Projection.IN_PROJ_X,
            Projection.IN_PROJ_B, Projection.IN_PROJ_C, Projection.IN_PROJ_DT, Projection.OUT_PROJ);

    static Stream<String> backends() {
        return Backends.load().available().stream().filter(b -> b.families().contains(ModelFamily.MAMBA2))
                .map(BackendProvider::name);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void loraOnTheInProjBlocksMatchesTransformers(String backend) throws Exception {
        Path dir = Fixtures.folder("mamba2-groups2-bias-untied");
        Mamba2Weights weights = Mamba2Checkpoint.load(dir);
        Adapter lora = new AdapterFactory(PeftMethods.load()).create(new AdapterConfig("blocks", "lora",
                LayerSelection.ALL, new LoraConfig(2, 4.0, 0.0, TARGETS, false)), weights.shape(),
                AdapterFactory.seeded(0));
        int[][] tokens;
        try (var ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            tokens = Fixtures.inputIds(ref);
        }
        try (var expected = SafetensorsFile.open(dir.resolve("lora-blocks-grads.safetensors"))) {
            assertThat(lora.parameters()).hasSize(24);
            lora.parameters().forEach((name, t) -> {
                try {
                    float[] v = expected.readFloats(name);
                    assertThat(v).as(name).hasSameSizeAs(t.data());
                    System.arraycopy(v, 0, t.data(), 0, v.length);
                } catch (Exception e) {
                    throw new AssertionError("the reference has no " + name, e);
                }
            });
            SsmModel model = Backends.load().get(backend).create(weights);
            try {
                AdapterSet set = new AdapterSet(weights.shape()).add(lora);
                LossAndGradients g = model.lossAndGradients(tokens, tokens, set, Set.of());
                float[] logits = expected.readFloats("logits");
                double scale = Math.max(1, maxAbs(logits));
                assertThat(Fixtures.maxAbsDiff(g.logits().values(), logits)).as("%s: logits", backend)
                        .isLessThanOrEqualTo(1e-5 * scale);
                assertThat(g.loss()).as("loss").isCloseTo(expected.readFloats("loss")[0],
                        org.assertj.core.data.Offset.offset(1e-5));
                double worst = 0;
                for (String name : lora.parameters().keySet()) {
                    double rel = Fixtures.relativeError(g.adapterGradient("blocks", name).data(),
                            expected.readFloats(name + ".grad"));
                    worst = Math.max(worst, rel);
                    assertThat(rel).as("%s: dL/d%s against transformers", backend, name).isLessThanOrEqualTo(1e-4);
                }
                System.out.printf("LoRA on the in_proj blocks, %s against transformers: worst gradient %.2e%n",
                        backend, worst);
            } finally {
                if (model instanceof AutoCloseable c) {
                    c.close();
                }
            }
        }
    }

    private static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
