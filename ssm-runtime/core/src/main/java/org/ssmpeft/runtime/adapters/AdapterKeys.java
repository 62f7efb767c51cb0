package org.ssmpeft.runtime.adapters;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.hooks.InputHook;
import org.ssmpeft.api.hooks.LowRankDelta;
import org.ssmpeft.api.hooks.Projection;
import org.ssmpeft.api.hooks.ProjectionHook;
import org.ssmpeft.api.shape.ModelShape;
import org.ssmpeft.api.tensor.Tensor;

/**
 * The tensor names of an adapter in {@code adapter_model.safetensors}: Hugging Face PEFT's names where PEFT has the
 * same tensor, a documented project name otherwise. The mapping is found from the hooks, not from parameter names,
 * so it holds for any method:
 *
 * <ul>
 *   <li>a parameter that a {@link ProjectionHook} hands out as the A or B of a low-rank delta on projection
 *       {@code p} of layer {@code i}: {@code base_model.model.backbone.layers.<i>.mixer.<p>.lora_A.weight} (and
 *       {@code lora_B}); on the head {@code base_model.model.lm_head.lora_A.weight}. Whole projections
 *       ({@code in_proj}, {@code x_proj}, {@code dt_proj}, {@code out_proj}) are PEFT's keys exactly; row blocks
 *       keep the block in the module path ({@code ...mixer.x_proj.dt.lora_A.weight}), which PEFT has no module
 *       for; a DoRA delta's magnitude is {@code <module path>.lora_magnitude_vector}, as PEFT saves it (its
 *       {@code lora_magnitude_vector.<adapter>.weight} with the adapter name and the ".weight" removed);</li>
 *   <li>the parameter an embedding-placed {@link InputHook} hands out as its virtual tokens:
 *       {@code prompt_embeddings} (PEFT's prompt tuning key);</li>
 *   <li>any other per-layer parameter {@code layers.<i>.<rest>}:
 *       {@code base_model.model.backbone.layers.<i>.mixer.<rest>} (e.g. {@code ...layers.3.mixer.state_offset}),
 *       and any other model-wide parameter {@code <name>}:
 *       {@code base_model.model.<name>} (e.g. {@code base_model.model.mlp.0.weight} of prefix tuning's MLP).</li>
 * </ul>
 */
public final class AdapterKeys {

    /** The prefix PEFT puts before a module path of the base model. */
    public static final String PREFIX = "base_model.model.";
    /** PEFT's key of prompt tuning's virtual-token embeddings. */
    public static final String PROMPT_EMBEDDINGS = "prompt_embeddings";

    private AdapterKeys() {
    }

    /** PEFT's key of a LoRA factor: {@code part} is {@code lora_A} or {@code lora_B}; layer ignored for the head. */
    public static String lora(int layer, Projection target, String part) {
        return modulePath(layer, target) + "." + part + ".weight";
    }

    /** PEFT's key of a DoRA magnitude; layer ignored for the head. */
    public static String loraMagnitude(int layer, Projection target) {
        return modulePath(layer, target) + ".lora_magnitude_vector";
    }

    /** A projection's module path as PEFT names it, e.g. {@code base_model.model.backbone.layers.0.mixer.in_proj}. */
    public static String modulePath(int layer, Projection target) {
        return target == Projection.HEAD ? PREFIX + "lm_head"
                : PREFIX + "backbone.layers." + layer + ".mixer." + target.configName();
    }

    /** File key by parameter name, in the adapter's parameter order; fails if two parameters would share a key. */
    public static Map<String, String> of(Adapter adapter) {
        IdentityHashMap<Tensor, String> byTensor = new IdentityHashMap<>();
        ModelShape shape = adapter.shape();
        if (adapter instanceof ProjectionHook hook) {
            for (Projection p : Projection.values()) {
                if (!p.existsIn(shape.family())) {
                    continue;
                }
                if (p.isPerLayer()) {
                    for (int l = 0; l < shape.layers(); l++) {
                        put(byTensor, hook.delta(l, p), l, p);
                    }
                } else {
                    put(byTensor, hook.delta(-1, p), -1, p);
                }
            }
        }
        if (adapter instanceof InputHook in && in.placement() == InputHook.Placement.EMBEDDING) {
            in.virtualTokens(-1).ifPresent(t -> byTensor.putIfAbsent(t, PROMPT_EMBEDDINGS));
        }
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String> owner = new LinkedHashMap<>();
        adapter.parameters().forEach((name, tensor) -> {
            String key = byTensor.getOrDefault(tensor, generic(name));
            String previous = owner.putIfAbsent(key, name);
            if (previous != null) {
                throw new IllegalStateException("adapter '" + adapter.name() + "' (" + adapter.method()
                        + "): parameters '" + previous + "' and '" + name + "' would both be saved as '" + key + "'");
            }
            out.put(name, key);
        });
        return out;
    }

    private static void put(IdentityHashMap<Tensor, String> byTensor, Optional<LowRankDelta> delta, int layer,
                            Projection p) {
        delta.ifPresent(d -> {
            byTensor.putIfAbsent(d.a(), lora(layer, p, "lora_A"));
            byTensor.putIfAbsent(d.b(), lora(layer, p, "lora_B"));
            d.magnitude().ifPresent(m -> byTensor.putIfAbsent(m, loraMagnitude(layer, p)));
        });
    }

    /** The key of a parameter no hook identifies: per-layer ones under the layer's mixer, others under the model. */
    static String generic(String name) {
        if (name.startsWith("layers.")) {
            int dot = name.indexOf('.', "layers.".length());
            if (dot > 0) {
                return PREFIX + "backbone." + name.substring(0, dot) + ".mixer" + name.substring(dot);
            }
        }
        return PREFIX + name;
    }
}
