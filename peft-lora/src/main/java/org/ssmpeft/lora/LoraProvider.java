package org.ssmpeft.lora;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;

/**
 * LoRA (Hu et al.) on SSM projections: {@code W x + s·B(A x)} with A (r, in) Kaiming-uniform(a=√5) and B (out, r)
 * zero, as Hugging Face PEFT initialises them, so the adapter starts as the identity. Per target and layer
 * r·(in + out) parameters; the head's delta is model-wide. The scaling s is alpha/r, or alpha/√r with
 * {@code use_rslora} (rsLoRA, Kalajdzievski 2023: the same factors, only s differs).
 *
 * <p>With {@code use_dora} (DoRA, Liu et al. 2024) each target also has a magnitude m (out) and its rows become
 * {@code m ⊙ (W + s·B·A) / ||W + s·B·A||_c}, the norm per output row and constant in the backward, as PEFT computes
 * it; m starts at {@code ||W||_c}, so the adapter still starts as the identity. r·(in + out) + out parameters per
 * target and layer. See {@link LowRankDelta} for the contribution the backends compute.
 *
 * <p>With {@code init_lora_weights: pissa} (PiSSA, Meng et al. 2024) A and B start at the principal factors A0, B0 of
 * the base rows' top-r SVD ({@code Initializer.PrincipalFactor}, set by the runtime from the base weight) and the delta
 * is {@code s·B·A − s·B0·A0}: still the identity at the start, and training moves the principal directions. The same
 * r·(in + out) trained parameters; the frozen pair is the runtime's, recomputed from the base weight.
 */
public final class LoraProvider extends BasePeftMethodProvider<LoraConfig> {

    public static final String NAME = "lora";

    public LoraProvider() {
        super(NAME, "LoRA: a low-rank update s*B*A on chosen projections (in_proj and its x/z blocks, Mamba-2's"
                + " B/C/dt blocks too, x_proj and its dt/B/C blocks, dt_proj, out_proj, head); options: rsLoRA"
                + " (use_rslora), DoRA (use_dora), LoRA+ (loraplus_lr_ratio), PiSSA (init_lora_weights: pissa)",
                LoraConfig.class, LoraConfig.DEFAULT, true, HookKind.PROJECTION);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ConfigProblem> validate(LoraConfig config, ModelShape shape) {
        List<ConfigProblem> problems = new ArrayList<>();
        for (int i = 0; i < config.targets().size(); i++) {
            Projection p = config.targets().get(i);
            if (!p.existsIn(shape.family())) {
                problems.add(new ConfigProblem("targets[" + i + "]", "target " + p.configName() + " does not exist in "
                        + shape.family() + " blocks; " + shape.family() + " has: " + String.join(", ",
                        java.util.Arrays.stream(Projection.values()).filter(q -> q.existsIn(shape.family()))
                                .map(Projection::configName).toList())));
            }
        }
        return problems;
    }

    /** Parameter name of a target's A or B: {@code layers.3.x_proj.dt.lora_A}, {@code head.lora_B}. */
    static String parameterName(int layer, Projection target, String part) {
        return (target.isPerLayer() ? "layers." + layer + "." : "") + target.configName() + "." + part;
    }

    @Override
    public List<ParameterSpec> parameterSpecs(LoraConfig config, ModelShape shape, LayerSelection layers) {
        List<ConfigProblem> problems = validate(config, shape);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(problems.getFirst().toString());
        }
        List<ParameterSpec> specs = new ArrayList<>();
        int[] selected = layers.resolve(shape.layers());
        for (Projection target : config.targets()) {
            if (!target.isPerLayer()) {
                addPair(specs, config, shape, target, -1);
            }
        }
        for (int l : selected) {
            for (Projection target : config.targets()) {
                if (target.isPerLayer()) {
                    addPair(specs, config, shape, target, l);
                }
            }
        }
        return specs;
    }

    private static void addPair(List<ParameterSpec> specs, LoraConfig config, ModelShape shape, Projection target,
                                int layer) {
        int r = config.rank();
        int[] aShape = {r, target.inFeatures(shape)};
        int[] bShape = {target.outFeatures(shape), r};
        var layerIndex = layer < 0 ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(layer);
        boolean pissa = config.initLoraWeights() == LoraInit.PISSA;
        specs.add(new ParameterSpec(parameterName(layer, target, "lora_A"), aShape,
                pissa ? new Initializer.PrincipalFactor() : Initializer.KaimingUniform.LINEAR_DEFAULT,
                HookKind.PROJECTION, layerIndex, true));
        // LoRA+: B's parameter group learns loraplus_lr_ratio times faster (PEFT's create_loraplus_optimizer)
        specs.add(new ParameterSpec(parameterName(layer, target, "lora_B"), bShape,
                pissa ? new Initializer.PrincipalFactor() : new Initializer.Zeros(),
                HookKind.PROJECTION, layerIndex, true, config.loraplusLrRatio()));
        if (config.useDora()) {
            // decayed like A and B, as PEFT's trainer does; in LoRA+'s group of B, as PEFT puts 1-D parameters
            specs.add(new ParameterSpec(parameterName(layer, target, MAGNITUDE), new int[] {target.outFeatures(shape)},
                    new Initializer.BaseRowNorm(), HookKind.PROJECTION, layerIndex, true, config.loraplusLrRatio()));
        }
    }

    /** The parameter name part of DoRA's magnitude, PEFT's module name. */
    static final String MAGNITUDE = "lora_magnitude_vector";

    @Override
    public Adapter create(AdapterContext<LoraConfig> context) {
        return new LoraAdapter(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }

    static final class LoraAdapter extends Adapter implements ProjectionHook {
        private final LoraConfig config;

        LoraAdapter(AdapterContext<LoraConfig> context, List<ParameterSpec> specs) {
            super(context, specs);
            this.config = context.config();
        }

        @Override
        public Optional<LowRankDelta> delta(int layer, Projection target) {
            if (!config.targets().contains(target)) {
                return Optional.empty();
            }
            int l = target.isPerLayer() ? layer : -1;
            return parameterIfPresent(parameterName(l, target, "lora_A")).map(a -> new LowRankDelta(a,
                    parameter(parameterName(l, target, "lora_B")), config.scaling(), target.rowOffset(shape()),
                    config.useDora() ? Optional.of(parameter(parameterName(l, target, MAGNITUDE)))
                            : Optional.empty(), config.initLoraWeights() == LoraInit.PISSA));
        }
    }
}
