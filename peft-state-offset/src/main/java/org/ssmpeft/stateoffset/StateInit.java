package org.ssmpeft.stateoffset;

import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.config.ConfigEnum;

/** How a state-shaped parameter starts. */
public enum StateInit implements ConfigEnum {
    /** All zeros: the adapter starts as the identity (the paper's and reference code's default). */
    ZERO("zero"),
    /** The reference code's RANDOM option for state offsets: {@code 0.1·N(0, 1)}. */
    NORMAL("normal"),
    /** The reference code's "random" option for initial states: Kaiming-uniform with a = √5. */
    KAIMING_UNIFORM("kaiming-uniform");

    private final String configName;

    StateInit(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }

    Initializer initializer() {
        return switch (this) {
            case ZERO -> new Initializer.Zeros();
            case NORMAL -> new Initializer.Normal(0.1);
            case KAIMING_UNIFORM -> Initializer.KaimingUniform.LINEAR_DEFAULT;
        };
    }
}
