package org.ssmpeft.finetune;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;

/**
 * Full fine-tuning as a parameter hook: a zero-initialised delta for every base tensor, {@code θ = θ_base + Δθ}. It
 * holds a second copy of every weight (and a backend a third, the effective sum), so it doubles weight memory; a
 * trainer may instead update the base weights in place through {@code trainableBaseNames} of the runtime's
 * {@code lossAndGradients}, which gives the same gradients. Mamba-1 and Mamba-2 names (Hugging Face's); not per
 * layer: every layer is trained.
 */
public final class FullFineTuningProvider extends BasePeftMethodProvider<FullFineTuningConfig> {

    public static final String NAME = "full-ft";

    public FullFineTuningProvider() {
        super(NAME, "full fine-tuning: every base tensor gets a trainable delta, zero at the start (doubles weight"
                + " memory; a trainer can instead update base weights in place through trainableBaseNames)",
                FullFineTuningConfig.class, FullFineTuningConfig.DEFAULT, false, HookKind.PARAMETER);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    /** Every base tensor of the model, in checkpoint order (Hugging Face's). */
    public static List<BaseTensor> tensors(FullFineTuningConfig config, ModelShape s) {
        List<BaseTensor> out = new ArrayList<>();
        out.add(ModelParameter.EMBEDDINGS_WEIGHT.of(s));
        for (int l = 0; l < s.layers(); l++) {
            if (s.family() == ModelFamily.MAMBA) {
                for (LayerParameter p : LayerParameter.values()) {
                    boolean present = p.existsIn(ModelFamily.MAMBA) && switch (p) {
                        case CONV1D_BIAS -> config.convBias();
                        case IN_PROJ_BIAS, OUT_PROJ_BIAS -> config.linearBiases();
                        default -> true;
                    };
                    if (present) {
                        out.add(p.of(l, s));
                    }
                }
            } else {
                out.addAll(mamba2Layer(config, s, l));
            }
        }
        out.add(ModelParameter.NORM_F_WEIGHT.of(s));
        if (!config.tiedHead()) {
            out.add(ModelParameter.LM_HEAD_WEIGHT.of(s));
        }
        return out;
    }

    /** A Mamba-2 block as transformers' Mamba2Mixer names it. */
    private static List<BaseTensor> mamba2Layer(FullFineTuningConfig config, ModelShape s, int l) {
        int d = s.dModel();
        int conv = s.convChannels();
        int h = s.heads();
        List<BaseTensor> out = new ArrayList<>();
        out.add(BaseTensor.ofLayer(l, "norm.weight", false, d));
        out.add(BaseTensor.ofLayer(l, "mixer.in_proj.weight", true, s.inProjWidth(), d));
        if (config.linearBiases()) {
            out.add(BaseTensor.ofLayer(l, "mixer.in_proj.bias", false, s.inProjWidth()));
        }
        out.add(BaseTensor.ofLayer(l, "mixer.conv1d.weight", true, conv, 1, s.convKernel()));
        if (config.convBias()) {
            out.add(BaseTensor.ofLayer(l, "mixer.conv1d.bias", false, conv));
        }
        out.add(BaseTensor.ofLayer(l, "mixer.dt_bias", false, h));
        out.add(BaseTensor.ofLayer(l, "mixer.A_log", false, h));
        out.add(BaseTensor.ofLayer(l, "mixer.D", false, h));
        out.add(BaseTensor.ofLayer(l, "mixer.norm.weight", false, s.dInner()));
        out.add(BaseTensor.ofLayer(l, "mixer.out_proj.weight", true, d, s.dInner()));
        if (config.linearBiases()) {
            out.add(BaseTensor.ofLayer(l, "mixer.out_proj.bias", false, d));
        }
        return out;
    }

    @Override
    public List<ParameterSpec> parameterSpecs(FullFineTuningConfig config, ModelShape shape, LayerSelection layers) {
        return tensors(config, shape).stream().map(BaseTensor::deltaSpec).toList();
    }

    @Override
    public Adapter create(AdapterContext<FullFineTuningConfig> context) {
        return new ParameterDeltas(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }
}
