package org.ssmpeft.stateoffset;

import org.ssmpeft.api.adapter.Initializer;
import org.ssmpeft.api.config.ConfigEnum;
import org.ssmpeft.api.config.Doc;
import org.ssmpeft.api.config.Range;
import org.ssmpeft.api.shape.ModelShape;

/**
 * Config of additional-scan (the reference code's {@code DIM_EXTEND} with {@code d_state = n_extra}).
 *
 * @param nExtra n', the state dimensions added to every channel of every selected layer
 * @param aInit  how the extra log-decays a' start
 */
public record AdditionalScanConfig(
        @Doc("n', extra state dimensions per channel (the reference's d_state: 8)") @Range(min = 1, max = 1024)
        int nExtra,
        @Doc("start of the extra log-decays a': reference (a' = N, i.e. A' = -e^N, what the reference code really"
                + " does) | log-range (a' = log(N+1 .. N+n'), the alternative commented out there)") AInit aInit) {

    public static final AdditionalScanConfig DEFAULT = new AdditionalScanConfig(8, AInit.REFERENCE);

    /** How a' starts. */
    public enum AInit implements ConfigEnum {
        /**
         * a' = N everywhere, i.e. A' = -e^N (-e^16 ≈ -8.9e6 at N = 16): the reference code's effective behaviour. Its
         * {@code TensorDimExtend} copies the last column of the A_log processor's stored data, and that data is the
         * S4D-real matrix A = [1..N] taken before the log (and before the pretrained weights load), so the copied
         * value is N, not log N. The new states then forget at once (exp(Δ·A') underflows to 0 for any usual Δ) and
         * a' gets no gradient until E_B, E_C and Δ make them matter; reproduced as is, for faithful baselines.
         */
        REFERENCE("reference"),
        /**
         * a'[d, j] = log(N + 1 + j): Mamba's S4D-real initialisation continued past the base states (the alternative
         * left commented out in the reference code), so the new states decay like slower-than-base ones and a'
         * trains from the start.
         */
        LOG_RANGE("log-range");

        private final String configName;

        AInit(String configName) {
            this.configName = configName;
        }

        @Override
        public String configName() {
            return configName;
        }

        Initializer initializer(ModelShape shape) {
            return switch (this) {
                case REFERENCE -> new Initializer.Constant(shape.dState());
                case LOG_RANGE -> new Initializer.S4dRealLog(shape.dState());
            };
        }
    }
}
