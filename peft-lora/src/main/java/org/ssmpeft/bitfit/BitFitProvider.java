package org.ssmpeft.bitfit;

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
import org.ssmpeft.finetune.BaseTensor;
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.finetune.ParameterDeltas;

/**
 * BitFit: a zero-initialised delta per chosen bias of each selected layer, {@code b = b_base + Δb}, keyed by the
 * Hugging Face name ({@code backbone.layers.3.mixer.conv1d.bias}, {@code ...dt_proj.bias}, {@code ...D}). Per layer:
 * conv1d.bias D (Mamba-2: D + 2GN), dt_proj.bias D (Mamba-2: dt_bias, H), D D (Mamba-2: H), in_proj.bias the
 * in_proj width, out_proj.bias d_model.
 */
public final class BitFitProvider extends BasePeftMethodProvider<BitFitConfig> {

    public static final String NAME = "bitfit";

    public BitFitProvider() {
        super(NAME, "BitFit: trainable deltas on the biases of each layer (conv1d.bias, dt_proj.bias and the SSM skip"
                + " D by default; in_proj/out_proj biases opt-in), zero at the start", BitFitConfig.class,
                BitFitConfig.DEFAULT, true, HookKind.PARAMETER);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    /** The base tensor of one bias term in one layer. */
    public static BaseTensor tensor(BiasTerm term, int layer, ModelShape s) {
        if (s.family() == ModelFamily.MAMBA) {
            return (switch (term) {
                case CONV1D_BIAS -> LayerParameter.CONV1D_BIAS;
                case DT_PROJ_BIAS -> LayerParameter.DT_PROJ_BIAS;
                case D -> LayerParameter.D;
                case IN_PROJ_BIAS -> LayerParameter.IN_PROJ_BIAS;
                case OUT_PROJ_BIAS -> LayerParameter.OUT_PROJ_BIAS;
            }).of(layer, s);
        }
        String suffix = switch (term) { // transformers' Mamba2Mixer
            case CONV1D_BIAS -> "mixer.conv1d.bias";
            case DT_PROJ_BIAS -> "mixer.dt_bias";
            case D -> "mixer.D";
            case IN_PROJ_BIAS -> "mixer.in_proj.bias";
            case OUT_PROJ_BIAS -> "mixer.out_proj.bias";
        };
        int size = switch (term) {
            case CONV1D_BIAS -> s.convChannels();
            case DT_PROJ_BIAS, D -> s.heads();
            case IN_PROJ_BIAS -> s.inProjWidth();
            case OUT_PROJ_BIAS -> s.dModel();
        };
        return new BaseTensor(BaseTensor.layerName(layer, suffix), new int[] {size}, java.util.OptionalInt.of(layer),
                false);
    }

    @Override
    public List<ParameterSpec> parameterSpecs(BitFitConfig config, ModelShape shape, LayerSelection layers) {
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            for (BiasTerm term : config.biases()) {
                specs.add(tensor(term, l, shape).deltaSpec());
            }
        }
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<BitFitConfig> context) {
        return new ParameterDeltas(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }
}
