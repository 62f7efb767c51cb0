package com.example.lowrank;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.config.ConfigProblem;
import org.ssmpeft.api.config.LayerSelection;
import org.ssmpeft.api.hooks.HookKind;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.spi.BasePeftMethodProvider;

/**
 * {@code state-offset-lowrank}: State-offset Tuning (variant h) with the low-rank offset of the reference code's
 * {@code r} option. Per selected layer h' = U·V with U (D, r) starting at zero and V (r, N) Kaiming-uniform
 * (a = √5), the reference's B_r and A_r, so an adapter starts as the identity. The hook sees h', the state's
 * shape; parameters: Lyr·r·(D + N) (148,992 on Mamba-130M at r = 4, against 589,824 for the full h').
 */
public final class LowRankStateOffsetProvider extends BasePeftMethodProvider<LowRankStateOffsetConfig> {

    public static final String NAME = "state-offset-lowrank";
    /** U (D, r) of layer l is {@code layers.<l>.state_offset_u}. */
    public static final String U = "state_offset_u";
    /** V (r, N) of layer l is {@code layers.<l>.state_offset_v}. */
    public static final String V = "state_offset_v";

    public LowRankStateOffsetProvider() {
        super(NAME, "State-offset Tuning with a low-rank offset h' = U·V (rank r) on the state read-out, added at"
                + " every step", LowRankStateOffsetConfig.class, LowRankStateOffsetConfig.DEFAULT, true,
                HookKind.STATE_OFFSET);
    }

    /** Both families: the hooks' shapes follow the model's (per-head states and blocks on Mamba-2). */
    @Override
    public Set<ModelFamily> families() {
        return EnumSet.allOf(ModelFamily.class);
    }

    @Override
    public List<ConfigProblem> validate(LowRankStateOffsetConfig config, ModelShape shape) {
        if (config.rank() > shape.dState()) {
            return List.of(new ConfigProblem("rank", "expected at most d_state = " + shape.dState() + " on "
                    + shape.describe() + ", found " + config.rank() + "; a rank of N already gives every h',"
                    + " use method state-offset for the full-rank offset"));
        }
        return List.of();
    }

    @Override
    public List<ParameterSpec> parameterSpecs(LowRankStateOffsetConfig config, ModelShape shape,
                                              LayerSelection layers) {
        int r = config.rank();
        List<ParameterSpec> specs = new ArrayList<>();
        for (int l : layers.resolve(shape.layers())) {
            // offsets are exempt from weight decay in the reference code; so are their factors here
            specs.add(ParameterSpec.perLayer(l, U, new Initializer.Zeros(), HookKind.STATE_OFFSET, false,
                    shape.dInner(), r));
            specs.add(ParameterSpec.perLayer(l, V, Initializer.KaimingUniform.LINEAR_DEFAULT, HookKind.STATE_OFFSET,
                    false, r, shape.dState()));
        }
        return specs;
    }

    @Override
    public Adapter create(AdapterContext<LowRankStateOffsetConfig> context) {
        return new LowRankStateOffset(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }
}
