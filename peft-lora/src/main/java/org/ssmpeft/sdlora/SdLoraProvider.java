package org.ssmpeft.sdlora;

import java.util.ArrayList;
import java.util.HashSet;
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
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.lora.LoraProvider;

/**
 * SDLoRA (Galim, Kang et al., "Parameter-Efficient Fine-Tuning of State Space Models", ICML 2025; reference code
 * furiosa-ai/ssm-peft {@code mamba_ssm_peft/peft/sd_lora.py} and {@code train.py}): LoRA on the linear projections
 * plus Sparse Dimension Tuning (SDT) of the SSM, i.e. updates of a chosen few channels and states of
 * {@code A_log}, B and C. Per adapted layer, with C the D' selected channels and S_c the N' selected states of
 * channel c:
 *
 * <pre>
 *   out_proj:   W x + (alpha/r)·B_lora (A_lora x)                           (the lora method's update)
 *   A_log:      A_log[c, n] + P[c, n]       for c in C, n in S_c; unchanged elsewhere
 *   x_proj:     W_B[n, c] + Q_B[n, c],  W_C[n, c] + Q_C[n, c]   for c in C, every n; unchanged elsewhere
 * </pre>
 *
 * (W_B, W_C: the B and C row blocks of x_proj; the dt rows, conv, dt_proj, D and in_proj stay frozen), with
 * P (D'·N'), Q_B and Q_C (N·D' each) zero at the start: r·(in + out) per LoRA target and layer plus
 * D'·N' + 2·N·D' per layer. D' = D - round(0.99 D) and N' = N - round(0.75 N) by default: on Mamba-130M 15 channels
 * and 4 states, 540 SDT parameters per layer.
 *
 * <p>Which channels and states: a warm-up run ({@link org.ssmpeft.api.adapter.WarmUp}; the reference's first run of
 * {@code train.py}, 500 steps) trains the same LoRA together with a dense delta ΔA of every layer's {@code A_log}
 * (the lora and partial-ft methods, composed); then {@link DimensionSelection} keeps the channels of largest
 * Σ_n ΔA[c, n]² and, in each, the states of largest ΔA[c, n]². The warm-up's tensors are then dropped: this adapter
 * starts from its own initial values (the reference's second run builds a fresh model and loads only the
 * selection), and its config records the selection, so a saved adapter loads without a warm-up. Before a warm-up
 * ran, the rule on ΔA = 0 applies (the first D' channels, the first N' states), which keeps the adapter a well
 * defined function of its tensors. Mamba-1 only: the reference defines SDT on Mamba-1's x_proj B/C and (D, N)
 * A_log, not on Mamba-2's per-head A.
 */
public final class SdLoraProvider extends BasePeftMethodProvider<SdLoraConfig> {

    public static final String NAME = "sdlora";

    private static final LoraProvider LORA = new LoraProvider();

    public SdLoraProvider() {
        super(NAME, "SDLoRA: LoRA on out_proj plus sparse updates of the A_log, B and C of a few SSM channels and"
                + " states, chosen by a warm-up run (largest A_log change)", SdLoraConfig.class, SdLoraConfig.DEFAULT,
                true, HookKind.PROJECTION, HookKind.PARAMETER);
    }

    @Override
    public Set<ModelFamily> families() {
        return Set.of(ModelFamily.MAMBA);
    }

    /**
     * LoRA's checks of the targets, and a given selection against the shape: one list per layer of the model, each
     * empty (a layer not adapted) or D' distinct channels below D with N' distinct states below N for each.
     */
    @Override
    public List<ConfigProblem> validate(SdLoraConfig config, ModelShape shape) {
        List<ConfigProblem> problems = new ArrayList<>(LORA.validate(config.lora(), shape));
        if (!config.hasSelection()) {
            return problems;
        }
        int k = config.channels(shape.dInner());
        int s = config.states(shape.dState());
        if (config.selectedChannels().size() != shape.layers()) {
            problems.add(new ConfigProblem("selected_channels", "expected one list per layer of the model ("
                    + shape.layers() + "), found " + config.selectedChannels().size()));
            return problems;
        }
        for (int l = 0; l < config.selectedChannels().size(); l++) {
            List<Integer> c = config.selectedChannels().get(l);
            if (c.isEmpty()) {
                continue;
            }
            if (c.size() != k || c.stream().anyMatch(i -> i < 0 || i >= shape.dInner())) {
                problems.add(new ConfigProblem("selected_channels[" + l + "]", "expected " + k + " distinct channels"
                        + " in 0.." + (shape.dInner() - 1) + " (channel_freeze " + config.channelFreeze() + " of "
                        + shape.dInner() + "), found " + c));
            }
            List<Integer> st = config.selectedStates().get(l);
            boolean distinct = true;
            for (int j = 0; j + s <= st.size(); j += s) {
                distinct &= new HashSet<>(st.subList(j, j + s)).size() == s;
            }
            if (st.size() != k * s || !distinct || st.stream().anyMatch(i -> i < 0 || i >= shape.dState())) {
                problems.add(new ConfigProblem("selected_states[" + l + "]", "expected " + s + " distinct states in"
                        + " 0.." + (shape.dState() - 1) + " for each of " + k + " channels (" + k * s + " indices),"
                        + " found " + st));
            }
        }
        return problems;
    }

    /** A given selection must cover every adapted layer: checked here, where the layers are known. */
    private void checkFits(SdLoraConfig config, ModelShape shape, LayerSelection layers) {
        List<ConfigProblem> problems = problems(config, shape);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(problems.getFirst().toString());
        }
        for (int l : layers.resolve(shape.layers())) {
            if (config.hasSelection() && config.selectedChannels().get(l).isEmpty()) {
                throw new IllegalArgumentException("selected_channels[" + l + "]: layer " + l + " is adapted but"
                        + " has no selected channels");
            }
        }
    }

    /** The LoRA half's tensors (the lora method's), then per layer P, Q_B, Q_C. */
    @Override
    public List<ParameterSpec> parameterSpecs(SdLoraConfig config, ModelShape shape, LayerSelection layers) {
        checkFits(config, shape, layers);
        List<ParameterSpec> specs = new ArrayList<>(LORA.parameterSpecs(config.lora(), shape, layers));
        int k = config.channels(shape.dInner());
        int s = config.states(shape.dState());
        int n = shape.dState();
        for (int l : layers.resolve(shape.layers())) {
            boolean aDecay = LayerParameter.A_LOG.of(l, shape).weightDecay();
            boolean xDecay = LayerParameter.X_PROJ_WEIGHT.of(l, shape).weightDecay();
            specs.add(ParameterSpec.perLayer(l, A_LOG, new Initializer.Zeros(), HookKind.PARAMETER, aDecay, k, s));
            specs.add(ParameterSpec.perLayer(l, X_PROJ_B, new Initializer.Zeros(), HookKind.PARAMETER, xDecay, n, k));
            specs.add(ParameterSpec.perLayer(l, X_PROJ_C, new Initializer.Zeros(), HookKind.PARAMETER, xDecay, n, k));
        }
        return specs;
    }

    /** Names of the SDT tensors under {@code layers.<l>.}: P (D', N'), Q_B and Q_C (N, D'). */
    static final String A_LOG = "A_log.sdt";
    static final String X_PROJ_B = "x_proj.B.sdt";
    static final String X_PROJ_C = "x_proj.C.sdt";

    @Override
    public Adapter create(AdapterContext<SdLoraConfig> context) {
        return new SdLoraAdapter(context, parameterSpecs(context.config(), context.shape(), context.layers()));
    }
}
