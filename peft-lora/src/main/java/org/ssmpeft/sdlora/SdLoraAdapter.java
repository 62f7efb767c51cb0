package org.ssmpeft.sdlora;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.adapter.AdapterContext;
import org.ssmpeft.api.adapter.ParameterSpec;
import org.ssmpeft.api.adapter.WarmUp;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.ParameterHook;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.finetune.LayerParameter;
import org.ssmpeft.finetune.PartialFineTuningConfig;
import org.ssmpeft.finetune.PartialFineTuningProvider;
import org.ssmpeft.lora.LoraProvider;

/**
 * An SDLoRA adapter (formula in {@link SdLoraProvider}). The LoRA half is the lora method's own adapter, whose
 * deltas are handed out with this adapter's tensors; the SDT half hands the backend full-shaped deltas of
 * {@code A_log} (D, N) and {@code x_proj.weight} (R + 2N, D), scattered from P, Q_B, Q_C at the selected
 * channels and states and zero everywhere else ({@link #refreshDerived}); their gradients are gathered back at the
 * same places ({@link #parameterGradients}), so nothing outside the selection can move.
 */
final class SdLoraAdapter extends Adapter implements ProjectionHook, ParameterHook, WarmUp {

    private final SdLoraConfig given;
    private SdLoraConfig current;
    private final Adapter lora;
    /** The lora adapter's tensors to this adapter's tensors of the same name. */
    private final IdentityHashMap<Tensor, Tensor> own = new IdentityHashMap<>();
    private final int[] layers;
    private final int k;
    private final int s;
    private final int[][] channels;
    private final int[][] states;
    /** Per adapted layer (position p): the full deltas handed to the parameter hook. */
    private final Tensor[] aLogDelta;
    private final Tensor[] xProjDelta;
    private final Map<String, Tensor> deltas = new LinkedHashMap<>();

    SdLoraAdapter(AdapterContext<SdLoraConfig> context, List<ParameterSpec> specs) {
        super(context, specs);
        this.given = context.config();
        this.current = given;
        var loraContext = new AdapterContext<>(context.name(), LoraProvider.NAME, given.lora(), context.shape(),
                context.layers());
        this.lora = new LoraProvider().create(loraContext);
        lora.parameters().forEach((name, t) -> own.put(t, parameter(name)));
        var shape = context.shape();
        this.layers = context.layerIndices();
        this.k = given.channels(shape.dInner());
        this.s = given.states(shape.dState());
        this.channels = new int[layers.length][];
        this.states = new int[layers.length][];
        this.aLogDelta = new Tensor[layers.length];
        this.xProjDelta = new Tensor[layers.length];
        for (int p = 0; p < layers.length; p++) {
            var a = LayerParameter.A_LOG.of(layers[p], shape);
            var x = LayerParameter.X_PROJ_WEIGHT.of(layers[p], shape);
            aLogDelta[p] = Tensor.zeros(a.shape());
            xProjDelta[p] = Tensor.zeros(x.shape());
            deltas.put(a.name(), aLogDelta[p]);
            deltas.put(x.name(), xProjDelta[p]);
            DimensionSelection.Layer chosen = given.hasSelection()
                    ? new DimensionSelection.Layer(ints(given.selectedChannels().get(layers[p])),
                    ints(given.selectedStates().get(layers[p])))
                    : DimensionSelection.first(shape.dInner(), shape.dState(), k, s);
            channels[p] = chosen.channels();
            states[p] = chosen.states();
        }
    }

    private static int[] ints(List<Integer> v) {
        return v.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The config with the selection in force (the warm-up's, once it ran): what a saved adapter records. */
    @Override
    public Record config() {
        return current;
    }

    @Override
    public Optional<LowRankDelta> delta(int layer, Projection target) {
        return ((ProjectionHook) lora).delta(layer, target).map(d -> new LowRankDelta(own.get(d.a()), own.get(d.b()),
                d.scaling(), d.rowOffset()));
    }

    @Override
    public Optional<Tensor> parameterDelta(String baseName) {
        return Optional.ofNullable(deltas.get(baseName));
    }

    @Override
    public Set<String> parameterDeltaNames() {
        return deltas.keySet();
    }

    private Tensor sdt(int p, String name) {
        return parameter("layers." + layers[p] + "." + name);
    }

    /**
     * ΔA_log[c_j, n_{j,i}] = P[j, i]; Δx_proj[R + n, c_j] = Q_B[n, j]; Δx_proj[R + N + n, c_j] = Q_C[n, j]; zero
     * elsewhere.
     */
    @Override
    public void refreshDerived() {
        int n = shape().dState();
        int d = shape().dInner();
        int bRow = shape().dtRank();
        for (int p = 0; p < layers.length; p++) {
            float[] a = aLogDelta[p].data();
            float[] x = xProjDelta[p].data();
            Arrays.fill(a, 0f);
            Arrays.fill(x, 0f);
            float[] pv = sdt(p, SdLoraProvider.A_LOG).data();
            float[] qb = sdt(p, SdLoraProvider.X_PROJ_B).data();
            float[] qc = sdt(p, SdLoraProvider.X_PROJ_C).data();
            for (int j = 0; j < k; j++) {
                int c = channels[p][j];
                for (int i = 0; i < s; i++) {
                    a[c * n + states[p][j * s + i]] = pv[j * s + i];
                }
                for (int m = 0; m < n; m++) {
                    x[(bRow + m) * d + c] = qb[m * k + j];
                    x[(bRow + n + m) * d + c] = qc[m * k + j];
                }
            }
        }
    }

    /** The scatter's transpose: dL/dP[j, i] = dL/dΔA_log[c_j, n_{j,i}], dL/dQ_B[n, j] = dL/dΔx_proj[R + n, c_j], ... */
    @Override
    public Map<String, Tensor> parameterGradients(IdentityHashMap<Tensor, Tensor> hookGradients) {
        Map<String, Tensor> out = super.parameterGradients(hookGradients);
        int n = shape().dState();
        int d = shape().dInner();
        int bRow = shape().dtRank();
        for (int p = 0; p < layers.length; p++) {
            Tensor ga = hookGradients.get(aLogDelta[p]);
            Tensor gx = hookGradients.get(xProjDelta[p]);
            float[] gp = out.get("layers." + layers[p] + "." + SdLoraProvider.A_LOG).data();
            float[] gb = out.get("layers." + layers[p] + "." + SdLoraProvider.X_PROJ_B).data();
            float[] gc = out.get("layers." + layers[p] + "." + SdLoraProvider.X_PROJ_C).data();
            for (int j = 0; j < k; j++) {
                int c = channels[p][j];
                for (int i = 0; i < s && ga != null; i++) {
                    gp[j * s + i] = ga.data()[c * n + states[p][j * s + i]];
                }
                for (int m = 0; m < n && gx != null; m++) {
                    gb[m * k + j] = gx.data()[(bRow + m) * d + c];
                    gc[m * k + j] = gx.data()[(bRow + n + m) * d + c];
                }
            }
        }
        return out;
    }

    // --- the warm-up (the reference's first run) ---

    @Override
    public int warmUpSteps() {
        return given.warmupSteps();
    }

    @Override
    public boolean needsWarmUp() {
        return !current.hasSelection();
    }

    /**
     * The lora method's adapter starting from this adapter's LoRA values (the reference's second run starts from the
     * same seed, so from the same LoRA A), and the partial-ft method's dense {@code A_log} delta of every adapted
     * layer, zero.
     */
    @Override
    public List<Adapter> warmUpAdapters() {
        var loraContext = new AdapterContext<>(name() + "-warmup-lora", LoraProvider.NAME, given.lora(), shape(),
                layers());
        Adapter warmLora = new LoraProvider().create(loraContext);
        warmLora.parameters().forEach((name, t) -> System.arraycopy(parameter(name).data(), 0, t.data(), 0,
                t.data().length));
        var aLog = new PartialFineTuningConfig(List.of(LayerParameter.A_LOG), List.of());
        Adapter warmALog = new PartialFineTuningProvider().create(new AdapterContext<>(name() + "-warmup-A_log",
                PartialFineTuningProvider.NAME, aLog, shape(), layers()));
        return List.of(warmLora, warmALog);
    }

    @Override
    public void select(List<Adapter> warmedUp) {
        List<List<Integer>> chosenChannels = new ArrayList<>();
        List<List<Integer>> chosenStates = new ArrayList<>();
        for (int l = 0; l < shape().layers(); l++) {
            chosenChannels.add(List.of());
            chosenStates.add(List.of());
        }
        for (int p = 0; p < layers.length; p++) {
            String name = LayerParameter.A_LOG.of(layers[p], shape()).name();
            Tensor delta = warmedUp.stream().filter(a -> a instanceof ParameterHook)
                    .flatMap(a -> ((ParameterHook) a).parameterDelta(name).stream()).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("adapter '" + name() + "': the warm-up adapters "
                            + warmedUp + " hold no delta of " + name));
            var chosen = DimensionSelection.select(delta.data(), shape().dInner(), shape().dState(), k, s);
            channels[p] = chosen.channels();
            states[p] = chosen.states();
            chosenChannels.set(layers[p], Arrays.stream(chosen.channels()).boxed().toList());
            chosenStates.set(layers[p], Arrays.stream(chosen.states()).boxed().toList());
        }
        current = given.withSelection(chosenChannels, chosenStates);
        refreshDerived();
    }
}
