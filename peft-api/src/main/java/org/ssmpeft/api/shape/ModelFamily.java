package org.ssmpeft.api.shape;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The state space model families the framework knows. Their block structure is in DESIGN.md §3. */
public enum ModelFamily {
    /** Mamba-1 (selective scan, per-channel A of shape (d_inner, N), x_proj and dt_proj). */
    MAMBA("mamba"),
    /** Mamba-2 (SSD, one scalar A per head, B/C shared by groups, gated RMSNorm). */
    MAMBA2("mamba2");

    private final String id;

    ModelFamily(String id) {
        this.id = id;
    }

    /** The name used in configs and in Hugging Face's {@code model_type}. */
    public String id() {
        return id;
    }

    public static ModelFamily fromId(String id) {
        for (ModelFamily f : values()) {
            if (f.id.equals(id.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown model family '" + id + "'; known: "
                + Arrays.stream(values()).map(ModelFamily::id).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return id;
    }
}
