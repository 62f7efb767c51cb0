package org.ssmpeft.api.hooks;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.shape.ModelFamily;
import org.ssmpeft.api.shape.ModelShape;

/**
 * The linear maps of an SSM block that a {@link ProjectionHook} can adapt, and the row block of the weight each one
 * covers. Sub-blocks ({@code in_proj.x}, {@code x_proj.dt} ...) are the row ranges the reference code splits the
 * weights into ({@code split_layers}); adapting a block changes only those output rows. Mamba-2's in_proj emits
 * [z (D) | x (D) | B (GN) | C (GN) | dt (H)], each a block ({@code in_proj.z}, {@code in_proj.x}, {@code in_proj.B},
 * {@code in_proj.C}, {@code in_proj.dt}); Mamba-1's emits [x (D) | z (D)].
 */
public enum Projection implements ConfigEnum {
    IN_PROJ("in_proj", "in_proj"),
    IN_PROJ_X("in_proj.x", "in_proj"),
    IN_PROJ_Z("in_proj.z", "in_proj"),
    /** Mamba-2 only: the B rows of in_proj, G·N wide (before the conv). */
    IN_PROJ_B("in_proj.B", "in_proj"),
    /** Mamba-2 only: the C rows of in_proj, G·N wide (before the conv). */
    IN_PROJ_C("in_proj.C", "in_proj"),
    /** Mamba-2 only: the dt rows of in_proj, H wide (before dt_bias and the softplus). */
    IN_PROJ_DT("in_proj.dt", "in_proj"),
    X_PROJ("x_proj", "x_proj"),
    X_PROJ_DT("x_proj.dt", "x_proj"),
    X_PROJ_B("x_proj.B", "x_proj"),
    X_PROJ_C("x_proj.C", "x_proj"),
    DT_PROJ("dt_proj", "dt_proj"),
    OUT_PROJ("out_proj", "out_proj"),
    /** The language-model head (model-wide, not per layer). */
    HEAD("head", "lm_head");

    private final String configName;
    private final String module;

    Projection(String configName, String module) {
        this.configName = configName;
        this.module = module;
    }

    @Override
    public String configName() {
        return configName;
    }

    /** The module whose weight this block belongs to ({@code in_proj}, {@code x_proj}, ..., {@code lm_head}). */
    public String module() {
        return module;
    }

    /** Whether this is the whole weight or a row block of it. */
    public boolean isRowBlock() {
        return switch (this) {
            case IN_PROJ_X, IN_PROJ_Z, IN_PROJ_B, IN_PROJ_C, IN_PROJ_DT, X_PROJ_DT, X_PROJ_B, X_PROJ_C -> true;
            default -> false;
        };
    }

    /** Whether this is a per-layer projection (all but the head). */
    public boolean isPerLayer() {
        return this != HEAD;
    }

    /** Two targets overlap when one is the whole weight the other is a block of (or they are equal). */
    public boolean overlaps(Projection other) {
        if (this == other) {
            return true;
        }
        return module.equals(other.module) && (!isRowBlock() || !other.isRowBlock());
    }

    /**
     * Whether the block exists in this family: x_proj and dt_proj (and their blocks) are Mamba-1's, in_proj's B, C
     * and dt blocks Mamba-2's.
     */
    public boolean existsIn(ModelFamily family) {
        if (family == ModelFamily.MAMBA) {
            return this != IN_PROJ_B && this != IN_PROJ_C && this != IN_PROJ_DT;
        }
        return !(module.equals("x_proj") || module.equals("dt_proj"));
    }

    /** Input width of the map. */
    public int inFeatures(ModelShape s) {
        return switch (this) {
            case IN_PROJ, IN_PROJ_X, IN_PROJ_Z, IN_PROJ_B, IN_PROJ_C, IN_PROJ_DT, HEAD -> s.dModel();
            case X_PROJ, X_PROJ_DT, X_PROJ_B, X_PROJ_C, OUT_PROJ -> s.dInner();
            case DT_PROJ -> s.dtRank();
        };
    }

    /** Output width of the adapted rows. */
    public int outFeatures(ModelShape s) {
        return switch (this) {
            case IN_PROJ -> s.inProjWidth();
            case IN_PROJ_X, IN_PROJ_Z, DT_PROJ -> s.dInner();
            case X_PROJ -> s.xProjWidth();
            case X_PROJ_DT -> s.dtRank();
            case X_PROJ_B, X_PROJ_C -> s.dState();
            case IN_PROJ_B, IN_PROJ_C -> s.groups() * s.dState();
            case IN_PROJ_DT -> s.heads();
            case OUT_PROJ -> s.dModel();
            case HEAD -> s.vocab();
        };
    }

    /**
     * First row of the module's weight that this block covers (Mamba-1 row order: [x, z], [dt, B, C]; Mamba-2:
     * [z, x, B, C, dt]).
     */
    public int rowOffset(ModelShape s) {
        if (s.family() == ModelFamily.MAMBA2) {
            int d = s.dInner();
            int gn = s.groups() * s.dState();
            return switch (this) {
                case IN_PROJ_X -> d;
                case IN_PROJ_B -> 2 * d;
                case IN_PROJ_C -> 2 * d + gn;
                case IN_PROJ_DT -> 2 * d + 2 * gn;
                default -> 0;
            };
        }
        return switch (this) {
            case IN_PROJ_Z -> s.dInner();
            case X_PROJ_B -> s.dtRank();
            case X_PROJ_C -> s.dtRank() + s.dState();
            default -> 0;
        };
    }

    public static Optional<Projection> fromConfigName(String name) {
        for (Projection p : values()) {
            if (p.configName.equals(name) || p.configName.toLowerCase(Locale.ROOT).equals(name)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    public static String configNames() {
        return Arrays.stream(values()).map(Projection::configName).collect(Collectors.joining(", "));
    }
}
