package org.ssmpeft.examples.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-method defaults {@code peft compare} trains with on the bundled base model: an adapter config (YAML, the
 * format of {@code peft config validate}) and a peak learning rate; {@code --lr METHOD=LR} overrides one. The learning
 * rates are guesses for a tiny model and a 100-step budget, 3-25x above the paper's for 130M-1.4B models (paper.md
 * section 8: state-offset h 1e-4 to 1e-3, initial state 2e-4 to 2e-3, LoRA 4e-5 to 4e-3); they are NOT tuned by a
 * sweep yet. A method not listed here (a
 * plugin) gets its provider's default config and {@link #FALLBACK_LR}. {@link #VARIANTS} are rows for options of a
 * method (DoRA and LoRA+ of lora), named {@code <method>-<option>}.
 */
final class MethodDefaults {

    /** Learning rate of methods without a tuned default. */
    static final double FALLBACK_LR = 1e-3;

    record Default(String config, double lr) {
    }

    static final Map<String, Default> DEFAULTS = Map.of(
            // the paper's method: h' per layer, zero-initialised (identity at the start)
            "state-offset", new Default("method: state-offset\nvariant: h\ninit: zero\n", 1e-2),
            "initial-state", new Default("method: initial-state\ninit: zero\n", 1e-2),
            // fewer virtual tokens than the providers' defaults (20, 10): sequences here are ~100 bytes
            "prompt", new Default("method: prompt\nnum_virtual_tokens: 8\n", 3e-2),
            "prefix", new Default("method: prefix\nnum_virtual_tokens: 8\n", 1e-2),
            // the paper's LoRA targets (x_proj's dt/B/C blocks and dt_proj), r 8, alpha 8
            "lora", new Default("method: lora\nrank: 8\nalpha: 8\ntargets: [x_proj.dt, x_proj.B, x_proj.C, dt_proj]\n",
                    3e-3),
            // the reference's SDLoRA (r 8 on out_proj, 99% of channels and 75% of states frozen) with a warm-up of
            // 5 steps instead of 500, so that it fits a run of a few dozen steps (the budget of the bundled default)
            "sdlora", new Default("method: sdlora\nrank: 8\nalpha: 8\ntargets: [out_proj]\nchannel_freeze: 0.99\n"
                    + "state_freeze: 0.75\nwarmup_steps: 5\n", 3e-3));

    /**
     * Rows of a comparison that are options of an installed method, not methods of their own: the row name, the
     * method, its config and rate, and whether the default run (no {@code --methods}) trains it. DoRA does; LoRA+ is
     * and PiSSA are trained on request ({@code --methods lora-plus,lora-pissa}) only: each row costs about 35 s of
     * the bundled default's 5 minutes; LoRA+ changes only the optimiser of the LoRA row, PiSSA only its start.
     */
    record Variant(String method, String config, double lr, boolean inDefaultRun) {
    }

    static final Map<String, Variant> VARIANTS = variants();

    private static Map<String, Variant> variants() {
        Map<String, Variant> v = new LinkedHashMap<>();
        // DoRA on the paper's LoRA targets: the same A, B plus a magnitude per adapted row
        v.put("lora-dora", new Variant("lora", "method: lora\nrank: 8\nalpha: 8\ntargets: [x_proj.dt, x_proj.B,"
                + " x_proj.C, dt_proj]\nuse_dora: true\n", 3e-3, true));
        // LoRA+ at the ratio its paper suggests; A at a third of lora's rate, B at 16 times that (5x lora's)
        v.put("lora-plus", new Variant("lora", "method: lora\nrank: 8\nalpha: 8\ntargets: [x_proj.dt, x_proj.B,"
                + " x_proj.C, dt_proj]\nloraplus_lr_ratio: 16\n", 1e-3, false));
        // PiSSA: A, B from the top-r SVD of each target's weight (the frozen principal part subtracted), at DoRA's rate
        v.put("lora-pissa", new Variant("lora", "method: lora\nrank: 8\nalpha: 8\ntargets: [x_proj.dt, x_proj.B,"
                + " x_proj.C, dt_proj]\ninit_lora_weights: pissa\n", 3e-3, false));
        return java.util.Collections.unmodifiableMap(v);
    }

    /**
     * The rows of a comparison without {@code --methods}: every installed method, each followed by its variants of
     * the default run.
     */
    static List<String> defaultRows(List<String> installed) {
        List<String> out = new ArrayList<>();
        for (String m : installed) {
            out.add(m);
            VARIANTS.forEach((name, v) -> {
                if (v.method().equals(m) && v.inDefaultRun()) {
                    out.add(name);
                }
            });
        }
        return out;
    }

    /** The variants of installed methods that a default run leaves out (trained with {@code --methods NAME}). */
    static List<String> onRequest(List<String> installed) {
        return VARIANTS.entrySet().stream().filter(e -> installed.contains(e.getValue().method())
                && !e.getValue().inDefaultRun()).map(Map.Entry::getKey).toList();
    }

    /**
     * The paper code's learning rates for Mamba-130M on DART (paper.md section 8; full fine-tuning from ssm-peft's
     * benchmark configs, SDLoRA from its {@code cfg/exps/sdlora/dart} configs), the centre of
     * {@code peft compare --lr-grid} on a benchmark task. State-offset here is the
     * (h) variant; the (y) variant's rate is 4e-3.
     */
    static final Map<String, Double> PAPER_LR = Map.of("state-offset", 4e-4, "initial-state", 2e-3,
            "additional-scan", 4e-3, "lora", 4e-3, "full-ft", 4e-4, "sdlora", 4e-3);

    private MethodDefaults() {
    }

    /** The default config text of a method ({@code method: NAME} alone for an unknown one). */
    static String config(String method) {
        Variant v = VARIANTS.get(method);
        if (v != null) {
            return v.config();
        }
        Default d = DEFAULTS.get(method);
        return d != null ? d.config() : "method: " + method + "\n";
    }

    /** The paper's rate of a method, else its bundled default ({@link #lr}). */
    static double paperLr(String method) {
        Variant v = VARIANTS.get(method);
        return PAPER_LR.getOrDefault(v != null ? v.method() : method, lr(method));
    }

    static double lr(String method) {
        Variant v = VARIANTS.get(method);
        if (v != null) {
            return v.lr();
        }
        Default d = DEFAULTS.get(method);
        return d != null ? d.lr() : FALLBACK_LR;
    }
}
