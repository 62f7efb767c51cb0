package org.ssmpeft.lora;

import java.util.List;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;
import org.ssmpeft.api.config.Range;
import org.ssmpeft.api.hooks.Projection;

/**
 * Config of LoRA. Defaults are the paper's LoRA baseline (r 8, alpha 8, on x_proj's dt/B/C blocks and dt_proj),
 * except dropout, which defaults to 0 as in Hugging Face PEFT (the paper used 0.1).
 *
 * @param rank      r
 * @param alpha     scaling numerator: s = alpha / r, or alpha / sqrt(r) with rsLoRA
 * @param dropout   dropout on the LoRA input during training
 * @param targets   the projections (or row blocks of them) that get a low-rank delta
 * @param useRslora rank-stabilised scaling alpha / sqrt(r)
 * @param useDora   DoRA (weight-decomposed LoRA): every target's rows become {@code m ⊙ (W + s·B·A) / ||W + s·B·A||_c}
 *                  with a trained magnitude m per output row. An option of LoRA rather than a method of its own
 *                  because it is one in Hugging Face PEFT ({@code LoraConfig.use_dora}), whose adapter files this
 *                  project reads and writes: the same A and B, the same targets and scaling, plus
 *                  {@code lora_magnitude_vector}; a separate method would split one PEFT type into two.
 * @param loraplusLrRatio LoRA+ (Hayou et al. 2024): B, and DoRA's magnitude, train at this times the run's learning
 *                  rate, A at the run's, as PEFT's {@code create_loraplus_optimizer(loraplus_lr_ratio=...)} groups
 *                  them (lora_B and every one-dimensional parameter); 1 is plain LoRA, the paper suggests 16. An
 *                  optimiser setting, not a change of the adapter: a LoRA+ adapter's files are plain LoRA's.
 * @param initLoraWeights how A and B start (PEFT's {@code init_lora_weights}): {@code default}, or {@code pissa}
 *                  (PiSSA, Meng et al. 2024): A and B start at the principal factors of the base rows' top-r SVD and
 *                  the delta is {@code s·B·A − s·B0·A0}, B0 and A0 those factors, frozen. An option of LoRA because
 *                  it is one in PEFT: the same A, B, targets and scaling; only the start and the frozen pair differ.
 */
public record LoraConfig(
        @Doc("rank r of the update B·A") @Range(min = 1, max = 4096) int rank,
        @Doc("scaling numerator: s = alpha/r (alpha/sqrt(r) with use_rslora)") @Range(min = 0) double alpha,
        @Doc("dropout probability on the LoRA input while training") @Range(min = 0, max = 0.99) double dropout,
        @Doc("projections to adapt: in_proj (or in_proj.x / in_proj.z), x_proj (or x_proj.dt / x_proj.B / x_proj.C),"
                + " dt_proj, out_proj, head") List<Projection> targets,
        @Doc("rank-stabilised LoRA scaling alpha/sqrt(r)") boolean useRslora,
        @Doc("DoRA: rows m * (W + s*B*A) / ||W + s*B*A|| with a trained magnitude m per output row (PEFT's"
                + " use_dora)") boolean useDora,
        @Doc("LoRA+: B (and DoRA's magnitude) learn at this times the learning rate; 1 = plain LoRA, the paper"
                + " suggests 16") double loraplusLrRatio,
        @Doc("how A and B start: default (A Kaiming-uniform, B zero) or pissa (A, B the principal factors of the"
                + " base weight's top-r SVD, the delta relative to them; PEFT's init_lora_weights)")
        LoraInit initLoraWeights) {

    public static final LoraConfig DEFAULT = new LoraConfig(8, 8.0, 0.0,
            List.of(Projection.X_PROJ_DT, Projection.X_PROJ_B, Projection.X_PROJ_C, Projection.DT_PROJ), false);

    /** Plain LoRA (no DoRA, no LoRA+). */
    public LoraConfig(int rank, double alpha, double dropout, List<Projection> targets, boolean useRslora) {
        this(rank, alpha, dropout, targets, useRslora, false);
    }

    /** LoRA or DoRA at one learning rate for A and B. */
    public LoraConfig(int rank, double alpha, double dropout, List<Projection> targets, boolean useRslora,
                      boolean useDora) {
        this(rank, alpha, dropout, targets, useRslora, useDora, 1.0);
    }

    /** LoRA, DoRA or LoRA+ from PEFT's default start. */
    public LoraConfig(int rank, double alpha, double dropout, List<Projection> targets, boolean useRslora,
                      boolean useDora, double loraplusLrRatio) {
        this(rank, alpha, dropout, targets, useRslora, useDora, loraplusLrRatio, LoraInit.DEFAULT);
    }

    public LoraConfig {
        targets = List.copyOf(targets);
        java.util.Objects.requireNonNull(initLoraWeights, "initLoraWeights");
        if (initLoraWeights == LoraInit.PISSA && useDora) {
            throw new InvalidFieldException("init_lora_weights", "init_lora_weights pissa cannot be combined with"
                    + " use_dora: DoRA's norm is taken of the base weight, PiSSA's start is relative to its SVD; choose"
                    + " one (init_lora_weights default with use_dora, or pissa with use_dora false)");
        }
        if (alpha <= 0) {
            throw new InvalidFieldException("alpha", "expected alpha > 0, found " + alpha
                    + " (alpha = 0 would switch the adapter off)");
        }
        if (!(loraplusLrRatio > 0) || Double.isInfinite(loraplusLrRatio)) {
            throw new InvalidFieldException("loraplus_lr_ratio", "expected a finite number > 0 (B's learning rate"
                    + " over A's; 1 is plain LoRA, LoRA+ suggests 16), found " + loraplusLrRatio);
        }
        if (targets.isEmpty()) {
            throw new InvalidFieldException("targets", "expected at least one target; choose from "
                    + Projection.configNames());
        }
        for (int i = 0; i < targets.size(); i++) {
            for (int j = i + 1; j < targets.size(); j++) {
                if (targets.get(i).overlaps(targets.get(j))) {
                    throw new InvalidFieldException("targets", "targets " + targets.get(i).configName() + " and "
                            + targets.get(j).configName() + " overlap (the same rows would get two deltas); keep the"
                            + " whole projection or its blocks, not both");
                }
            }
        }
    }

    /** s = alpha / r, or alpha / sqrt(r) with rsLoRA. */
    public float scaling() {
        return (float) (useRslora ? alpha / Math.sqrt(rank) : alpha / rank);
    }
}
