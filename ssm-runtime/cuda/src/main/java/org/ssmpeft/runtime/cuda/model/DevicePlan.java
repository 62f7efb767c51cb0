package org.ssmpeft.runtime.cuda.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.runtime.checkpoint.LanguageModelWeights;
import org.ssmpeft.runtime.checkpoint.MambaConfig;
import org.ssmpeft.runtime.checkpoint.MambaWeights;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;

/**
 * A {@link HookPlan} on the device for one call (the device twin of the cpu's {@code CpuPlan}): every term's value
 * uploaded in one copy, the effective weights {@code θ = θ_base + ΣΔθ} where a parameter delta acts (the base's
 * resident buffers elsewhere), A = -exp(A_log) recomputed where A_log has a delta, A' = -exp(a') of each layer's
 * concatenated state extension, and the low-rank deltas with their device factors. Everything it allocates belongs
 * to the call's arena.
 */
final class DevicePlan {

    /** The projections of a Mamba-1 block that low-rank deltas target, by module name. */
    static final List<String> MODULES = List.of("in_proj", "x_proj", "dt_proj", "out_proj");

    final HookPlan hooks;
    private final Map<Term, Long> values = new IdentityHashMap<>();
    private final Map<String, Long> effective = new HashMap<>();
    private final DeviceWeights base;
    private final List<BlockWeights> blocks = new ArrayList<>();
    private final long[] extNegA;
    private final List<Map<String, List<DeviceDelta>>> deltas = new ArrayList<>();
    private final List<DeviceDelta> head = new ArrayList<>();

    private DevicePlan(HookPlan hooks, DeviceWeights base, int layers) {
        this.hooks = hooks;
        this.base = base;
        this.extNegA = new long[layers];
    }

    /** Uploads what {@code hooks} hands out and derives the call's weights, into {@code call}. */
    static DevicePlan of(HookPlan hooks, DeviceWeights base, MambaWeights weights, Device device,
                         DeviceMemory.Arena call) {
        return of(hooks, base, weights, device, call, Map.of());
    }

    /**
     * As above, where the terms in {@code resident} already hold their values on the device at the address given (a
     * {@link CudaTrainingSession}'s trainable tensors): those are read there, not uploaded.
     */
    static DevicePlan of(HookPlan hooks, DeviceWeights base, MambaWeights weights, Device device,
                         DeviceMemory.Arena call, Map<Term, Long> resident) {
        MambaConfig c = weights.config();
        int layers = c.layers();
        var plan = new DevicePlan(hooks, base, layers);
        var staging = new Staging();
        List<Term> terms = plan.terms();
        terms.stream().filter(t -> !resident.containsKey(t)).forEach(t -> staging.add(t.value()));
        hooks.parameterDeltas().values().forEach(t -> staging.add(t.value()));
        // DoRA's gain g = m / n and norms n, per delta, computed on the host from this call's values (out floats)
        Map<HookPlan.LowRank, float[]> gains = new IdentityHashMap<>();
        for (HookPlan.LowRank d : plan.allLowRanks()) {
            d.dora().ifPresent(dora -> {
                float[] g = dora.gain();
                gains.put(d, g);
                staging.add(g);
                staging.add(dora.norm());
            });
        }
        staging.upload(device.memory(), call);
        for (Term t : terms) {
            Long at = resident.get(t);
            plan.values.put(t, at != null ? at : staging.address(t.value()));
        }

        // θ = θ_base + ΣΔθ: a copy of the base buffer, the summed delta added (the cpu's float sum, the same bits)
        Map<Integer, Long> replacedNegA = new HashMap<>();
        hooks.parameterDeltas().forEach((name, delta) -> {
            int n = delta.size();
            long sum = call.floats(n);
            device.memory().copy(sum, base.address(name), n);
            device.layers().addScaled(sum, staging.address(delta.value()), 1f, n);
            plan.effective.put(name, sum);
            for (int l = 0; l < layers; l++) {
                if (name.equals(LanguageModelWeights.layerName(l, "mixer.A_log"))) {
                    long negA = call.floats(n);
                    device.layers().negExp(negA, sum, n);
                    replacedNegA.put(l, negA);
                }
            }
        });
        for (int l = 0; l < layers; l++) {
            plan.blocks.add(BlockWeights.of(l, plan::weight, replacedNegA.getOrDefault(l, base.negA(l))));
            int li = l;
            hooks.layer(l).extension().ifPresent(e -> {
                int n = e.logDecay().size();
                plan.extNegA[li] = call.floats(n);
                device.layers().negExp(plan.extNegA[li], plan.value(e.logDecay()), n);
            });
            Map<String, List<DeviceDelta>> byModule = new LinkedHashMap<>();
            for (String module : MODULES) {
                String weight = LanguageModelWeights.layerName(l, "mixer." + module + ".weight");
                byModule.put(module, plan.device(hooks.layer(l).deltas(module), weight, gains, staging));
            }
            plan.deltas.add(byModule);
        }
        String headWeight = HookPlan.weightName(weights, Projection.HEAD, -1);
        plan.head.addAll(plan.device(hooks.head(), headWeight, gains, staging));
        return plan;
    }

    private List<DeviceDelta> device(List<HookPlan.LowRank> lowRanks, String weight,
                                     Map<HookPlan.LowRank, float[]> gains, Staging staging) {
        List<DeviceDelta> out = new ArrayList<>();
        for (HookPlan.LowRank d : lowRanks) {
            long a = value(d.a());
            long b = value(d.b());
            if (d.dora().isEmpty()) {
                out.add(new DeviceDelta(d, a, b, 0, 0, 0));
            } else {
                out.add(new DeviceDelta(d, a, b, staging.address(gains.get(d)),
                        staging.address(d.dora().get().norm()), weight(weight)));
            }
        }
        return List.copyOf(out);
    }

    private List<HookPlan.LowRank> allLowRanks() {
        List<HookPlan.LowRank> all = new ArrayList<>(hooks.head());
        for (int l = 0; l < extNegA.length; l++) {
            for (String module : MODULES) {
                all.addAll(hooks.layer(l).deltas(module));
            }
        }
        return all;
    }

    /**
     * Every term of the plan a backward reports a gradient for, in a fixed order: the prompt; per layer the prefix,
     * initial state, state and output offsets, the extension's a' and maps, the low-rank factors (and DoRA
     * magnitudes) per module; the head's factors.
     */
    List<Term> terms() {
        return terms(hooks, extNegA.length);
    }

    /** {@link #terms()} of a plan over {@code layers} layers, before any upload. */
    static List<Term> terms(HookPlan hooks, int layers) {
        List<Term> out = new ArrayList<>();
        hooks.prompt().ifPresent(out::add);
        for (int l = 0; l < layers; l++) {
            HookPlan.Layer ly = hooks.layer(l);
            ly.prefix().ifPresent(out::add);
            ly.initialState().ifPresent(out::add);
            ly.stateOffset().ifPresent(out::add);
            ly.outputOffset().ifPresent(out::add);
            ly.extension().ifPresent(e -> {
                out.add(e.logDecay());
                out.add(e.maps());
            });
            for (String module : MODULES) {
                ly.deltas(module).forEach(d -> addFactors(out, d));
            }
        }
        hooks.head().forEach(d -> addFactors(out, d));
        return out;
    }

    private static void addFactors(List<Term> out, HookPlan.LowRank d) {
        out.add(d.a());
        out.add(d.b());
        d.dora().ifPresent(dora -> out.add(dora.magnitude()));
    }

    /** The device address of a term's value. */
    long value(Term t) {
        Long at = values.get(t);
        if (at == null) {
            throw new IllegalStateException("term " + t + " is not part of this plan");
        }
        return at;
    }

    /** The device address of an optional term's value, 0 when absent. */
    long value(Optional<Term> t) {
        return t.map(this::value).orElse(0L);
    }

    /** The call's weight by Hugging Face name (θ_base + ΣΔθ where a delta acts); 0 for an absent parameter. */
    long weight(String name) {
        if (base.tied() && name.equals(LanguageModelWeights.LM_HEAD)) {
            name = LanguageModelWeights.EMBEDDING; // a tied head follows the embedding's delta
        }
        Long replaced = effective.get(name);
        return replaced != null ? replaced : base.address(name);
    }

    long embedding() {
        return weight(LanguageModelWeights.EMBEDDING);
    }

    long normF() {
        return weight(LanguageModelWeights.NORM_F);
    }

    long lmHead() {
        return weight(LanguageModelWeights.LM_HEAD);
    }

    BlockWeights block(int l) {
        return blocks.get(l);
    }

    HookPlan.Layer layer(int l) {
        return hooks.layer(l);
    }

    /** Layer l's A' = -exp(a') (D, n'), or 0 where no extension acts. */
    long extNegA(int l) {
        return extNegA[l];
    }

    /** The low-rank deltas on a projection of layer {@code l}, in stack order. */
    List<DeviceDelta> deltas(int l, String module) {
        return deltas.get(l).get(module);
    }

    List<DeviceDelta> head() {
        return head;
    }

    int promptLength() {
        return hooks.promptLength();
    }
}
