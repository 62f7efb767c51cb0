package org.ssmpeft.finetune;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
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
 * model-wide ones), {@code θ = θ_base + Δθ}. Family-aware: on Mamba-2 the default A/D tuning trains the per-head
 * {@code A_log} and {@code D} (H each), {@code dt_bias} (H) and the gated norm are opt-in, and {@link #validate}
 * refuses the tensors a family's blocks lack (x_proj and dt_proj on Mamba-2; dt_bias on Mamba-1), naming those it has.
 */
public final class PartialFineTuningProvider extends BasePeftMethodProvider<PartialFineTuningConfig> {

    public static final String NAME = "partial-ft";

    public PartialFineTuningProvider() {
        super(NAME, "partial fine-tuning (LAYER_FREEZE, A/D tuning): chosen base tensors (A_log, D, conv1d, in/x/dt/out"
                + " projections, norms, embedding; Mamba-2: dt_bias, mixer.norm.weight) get a trainable delta, zero at the start",
                PartialFineTuningConfig.class, PartialFineTuningConfig.DEFAULT, true, HookKind.PARAMETER);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ConfigProblem> validate(PartialFineTuningConfig config, ModelShape shape) {
        List<ConfigProblem> problems = new ArrayList<>();
        for (LayerParameter p : config.layerParameters()) {
            if (!p.existsIn(shape.family())) {
                problems.add(new ConfigProblem("layer_parameters", "'" + p.configName() + "' is not a tensor of a "
                        + shape.family() + " block; expected some of " + LayerParameter.namesIn(shape.family())));
            }
        }
        if (!problems.isEmpty()) {
            return problems;
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
