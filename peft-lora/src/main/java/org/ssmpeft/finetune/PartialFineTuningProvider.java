package org.ssmpeft.finetune;

import java.util.ArrayList;
import java.util.List;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;

/**
 * Partial fine-tuning: a zero-initialised delta {@code Δθ} per chosen base tensor (per selected layer, plus chosen
 * model-wide ones), {@code θ = θ_base + Δθ}. Mamba-1 names only: Mamba-2 blocks have no x_proj or dt_proj and a
 * per-head A, so {@link #validate} refuses a Mamba-2 shape.
 */
public final class PartialFineTuningProvider extends BasePeftMethodProvider<PartialFineTuningConfig> {

    public static final String NAME = "partial-ft";

    public PartialFineTuningProvider() {
        super(NAME, "partial fine-tuning (LAYER_FREEZE, A/D tuning): chosen base tensors (A_log, D, conv1d, in/x/dt/out"
                + " projections, norms, embedding) get a trainable delta, zero at the start; Mamba-1",
                PartialFineTuningConfig.class, PartialFineTuningConfig.DEFAULT, true, HookKind.PARAMETER);
    }

    @Override
    public List<ConfigProblem> validate(PartialFineTuningConfig config, ModelShape shape) {
        if (shape.family() != ModelFamily.MAMBA) {
            return List.of(new ConfigProblem("layer_parameters", "partial-ft names Mamba-1 tensors (x_proj, dt_proj,"
                    + " A_log of shape (d_inner, N)); a " + shape.family() + " model has other tensors and is not"
                    + " mapped: use full-ft or bitfit on " + shape.family()));
        }
        return List.of();
    }

    /** Model-wide tensors first, then per selected layer the layer tensors in config order. */
    public static List<BaseTensor> tensors(PartialFineTuningConfig config, ModelShape shape, LayerSelection layers) {
        List<BaseTensor> out = new ArrayList<>();
        for (ModelParameter p : config.modelParameters()) {
            out.add(p.of(shape));
        }
        for (int l : layers.resolve(shape.layers())) {
            for (LayerParameter p : config.layerParameters()) {
                out.add(p.of(l, shape));
            }
        }
        return out;
    }

    @Override
    public List<ParameterSpec> parameterSpecs(PartialFineTuningConfig config, ModelShape shape,
                                              LayerSelection layers) {
        List<ConfigProblem> problems = validate(config, shape);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(problems.getFirst().toString());
        }
        return tensors(config, shape, layers).stream().map(BaseTensor::deltaSpec).toList();
    }

    @Override
    public Adapter create(AdapterContext<PartialFineTuningConfig> context) {
        return new ParameterDeltas(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }
}
