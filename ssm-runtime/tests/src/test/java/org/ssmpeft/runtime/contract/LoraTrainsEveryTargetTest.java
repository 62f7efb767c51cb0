package org.ssmpeft.runtime.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.composition.AdapterFactory;
import org.ssmpeft.api.composition.AdapterSet;
import org.ssmpeft.api.config.AdapterConfig;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.registry.PeftMethods;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.lora.LoraConfig;
import org.ssmpeft.runtime.backend.Backends;
import org.ssmpeft.runtime.backend.LossAndGradients;
import org.ssmpeft.runtime.backend.SsmModel;
import org.ssmpeft.runtime.contract.RandomModels.ModelCase;

/**
 * LoRA really trains on every target it accepts, on every available backend: two adapters cover every target
 * without overlap inside either (whole projections and the head in one, the row blocks in_proj.x/z and
 * x_proj.dt/B/C in the other), at their standard init (A Kaiming-uniform, B = 0).
 *
 * <p>At B = 0, dL/dA = s·Bᵀ(...) is exactly zero and only B gets a gradient; so the test first checks exactly that,
 * then takes one manual gradient step on every B (B ← B − η·dL/dB, no optimizer, η so that the largest change is
 * 0.05), and then requires a non-zero gradient for both A and B of every target of every layer (and the head's).
 */
class LoraTrainsEveryTargetTest {

    private static final LoraConfig WHOLE = new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ, Projection.X_PROJ,
            Projection.DT_PROJ, Projection.OUT_PROJ, Projection.HEAD), false);
    private static final LoraConfig BLOCKS = new LoraConfig(2, 4.0, 0.0, List.of(Projection.IN_PROJ_X,
            Projection.IN_PROJ_Z, Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.X_PROJ_C), false);

    static Stream<Arguments> backendsAndModels() {
        List<Arguments> out = new ArrayList<>();
        for (var backend : Backends.load().available()) {
            for (ModelCase m : RandomModels.defaults()) {
                out.add(Arguments.of(backend.name(), m));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("backendsAndModels")
    void everyTargetsAAndBGetNonZeroGradientsAfterOneStep(String backend, ModelCase m) throws Exception {
        SsmModel model = Backends.load().get(backend).create(m.weights());
        try {
            var factory = new AdapterFactory(PeftMethods.load());
            Adapter whole = factory.create(new AdapterConfig("whole", "lora", LayerSelection.ALL, WHOLE),
                    model.shape(), AdapterFactory.seeded(1));
            Adapter blocks = factory.create(new AdapterConfig("blocks", "lora", LayerSelection.ALL, BLOCKS),
                    model.shape(), AdapterFactory.seeded(2));
            AdapterSet set = new AdapterSet(model.shape()).add(whole).add(blocks);
            List<Adapter> adapters = List.of(whole, blocks);
            assertThat(adapters.stream().mapToInt(a -> a.parameters().size()).sum())
                    .as("A and B of 4 whole projections and 5 blocks per layer, and of the head")
                    .isEqualTo(2 * (m.config().layers() * 9 + 1));

            LossAndGradients atInit = model.lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            double maxB = 0;
            for (Adapter a : adapters) {
                for (var e : atInit.adapterGradients().get(a.name()).entrySet()) {
                    float[] g = e.getValue().data();
                    if (e.getKey().endsWith("lora_A")) {
                        assertThat(g).as("%s/%s at B = 0", a.name(), e.getKey()).containsOnly(0f);
                    } else {
                        assertThat(MethodNumericContract.maxAbs(g)).as("%s/%s at B = 0", a.name(), e.getKey())
                                .isGreaterThan(0);
                        maxB = Math.max(maxB, MethodNumericContract.maxAbs(g));
                    }
                }
            }

            double eta = 0.05 / maxB;
            for (Adapter a : adapters) {
                for (var e : atInit.adapterGradients().get(a.name()).entrySet()) {
                    if (e.getKey().endsWith("lora_B")) {
                        float[] b = a.parameter(e.getKey()).data();
                        float[] g = e.getValue().data();
                        for (int i = 0; i < b.length; i++) {
                            b[i] -= (float) (eta * g[i]);
                        }
                    }
                }
            }

            LossAndGradients after = model.lossAndGradients(m.tokens(), m.labels(), set, Set.of());
            double smallest = Double.MAX_VALUE;
            for (Adapter a : adapters) {
                Map<String, Tensor> grads = after.adapterGradients().get(a.name());
                assertThat(grads.keySet()).containsExactlyElementsOf(a.parameters().keySet());
                for (var e : grads.entrySet()) {
                    double g = MethodNumericContract.maxAbs(e.getValue().data());
                    assertThat(g).as("%s: dL/d %s/%s after one step", backend, a.name(), e.getKey()).isGreaterThan(0);
                    smallest = Math.min(smallest, g);
                }
            }
            System.out.printf(Locale.ROOT, "lora on every target, %s, %s: after one step the smallest max |dL/dθ| of"
                    + " any A or B is %.3e%n", backend, m.name(), smallest);
        } finally {
            if (model instanceof AutoCloseable c) {
                c.close();
            }
        }
    }
}
