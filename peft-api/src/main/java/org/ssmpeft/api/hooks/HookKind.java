package org.ssmpeft.api.hooks;

/** The hook points of an SSM block (DESIGN.md §3), one per hook interface. */
public enum HookKind {
    /** Virtual tokens prepended to the sequence: {@link InputHook}. */
    INPUT("input", InputHook.class),
    /** {@code h_{-1} = h0} instead of zeros: {@link InitialStateHook}. */
    INITIAL_STATE("state:initial", InitialStateHook.class),
    /** {@code y_t += silu(z_t) ⊙ (h' · C_t)}: {@link StateOffsetHook}. */
    STATE_OFFSET("state:offset", StateOffsetHook.class),
    /** {@code y_t += silu(z_t) ⊙ y'}: {@link OutputOffsetHook}. */
    OUTPUT_OFFSET("output:offset", OutputOffsetHook.class),
    /** {@code W x + s·B(A x)} on a projection: {@link ProjectionHook}. */
    PROJECTION("projection", ProjectionHook.class),
    /** A subset of base parameters becomes trainable: {@link ParameterHook}. */
    PARAMETER("parameter", ParameterHook.class),
    /**
     * n' extra state dimensions per channel with their own decay, input and read-out,
     * {@code y_t += silu(z_t) ⊙ (h'_t · C'_t)}: {@link StateExtensionHook}.
     */
    STATE_EXTENSION("state:extension", StateExtensionHook.class);

    private final String label;
    private final Class<? extends Hook> type;

    HookKind(String label, Class<? extends Hook> type) {
        this.label = label;
        this.type = type;
    }

    public String label() {
        return label;
    }

    /** The interface an adapter implements to feed this hook. */
    public Class<? extends Hook> type() {
        return type;
    }

    @Override
    public String toString() {
        return label;
    }
}
