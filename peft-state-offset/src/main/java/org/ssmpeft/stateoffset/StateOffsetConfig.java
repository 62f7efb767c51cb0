package org.ssmpeft.stateoffset;

import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.InvalidFieldException;

/**
 * Config of State-offset Tuning.
 *
 * @param variant h: an offset h' on the state read-out ({@code y_t += silu(z_t)·(C_t·h')}); y: an offset y' on the
 *                SSM output ({@code y_t += silu(z_t)·y'})
 * @param init    how the offset starts; zero leaves the model unchanged
 */
public record StateOffsetConfig(
        @Doc("h: offset h' (d_inner x N per layer) added to the state at read-out; y: offset y' (d_inner per layer)"
                + " added to the SSM output before the gate") Variant variant,
        @Doc("zero (identity at start, the paper's choice) | normal (0.1*N(0,1)) | kaiming-uniform") StateInit init) {

    public static final StateOffsetConfig DEFAULT = new StateOffsetConfig(Variant.H, StateInit.ZERO);

    public StateOffsetConfig {
        if (variant == Variant.Y && init == StateInit.KAIMING_UNIFORM) {
            throw new InvalidFieldException("init", "kaiming-uniform needs a matrix but y' is a vector (d_inner);"
                    + " use zero or normal with variant y");
        }
    }

    public enum Variant implements ConfigEnum {
        H("h"), Y("y");

        private final String configName;

        Variant(String configName) {
            this.configName = configName;
        }

        @Override
        public String configName() {
            return configName;
        }
    }
}
