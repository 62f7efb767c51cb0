package org.ssmpeft.sdlora;

import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * SDLoRA's selection rule (furiosa-ai/ssm-peft {@code sd_lora.py}, {@code get_importances} and {@code get_mask}),
 * applied to the warm-up's update of one layer's {@code A_log}, ΔA (D, N):
 *
 * <pre>
 *   importance of channel c      I_c = Σ_n ΔA[c, n]²
 *   selected channels            the D' channels of largest I_c
 *   selected states of channel c the N' states n of largest ΔA[c, n]²
 * </pre>
 *
 * Orders are descending, ties to the lower index (the reference's {@code argsort} leaves ties unspecified); the
 * channels come out most important first, and the states of each channel likewise.
 */
public final class DimensionSelection {

    /**
     * One layer's choice.
     *
     * @param channels the D' selected channels
     * @param states   N' states per selected channel, channel after channel (D'·N')
     */
    public record Layer(int[] channels, int[] states) {
    }

    private DimensionSelection() {
    }

    /** The rule on {@code deltaALog}, (D, N) row-major, keeping D' channels and N' states per channel. */
    public static Layer select(float[] deltaALog, int dInner, int dState, int channels, int states) {
        if (deltaALog.length != dInner * dState || channels < 1 || channels > dInner || states < 1
                || states > dState) {
            throw new IllegalArgumentException("cannot keep " + channels + " of " + dInner + " channels and " + states
                    + " of " + dState + " states of an A_log update of " + deltaALog.length + " values");
        }
        double[] importance = new double[dInner];
        for (int c = 0; c < dInner; c++) {
            for (int n = 0; n < dState; n++) {
                double v = deltaALog[c * dState + n];
                importance[c] += v * v;
            }
        }
        int[] chosen = top(dInner, channels, c -> importance[c]);
        int[] chosenStates = new int[channels * states];
        for (int j = 0; j < channels; j++) {
            int row = chosen[j] * dState;
            int[] s = top(dState, states, n -> (double) deltaALog[row + n] * deltaALog[row + n]);
            System.arraycopy(s, 0, chosenStates, j * states, states);
        }
        return new Layer(chosen, chosenStates);
    }

    /** The {@code k} indices of {@code 0..n-1} of largest score, largest first, ties to the lower index. */
    private static int[] top(int n, int k, java.util.function.IntToDoubleFunction score) {
        return IntStream.range(0, n).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -score.applyAsDouble(i)).thenComparing(i -> i))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    /** The rule on a zero update: the first D' channels and the first N' states (what applies before a warm-up). */
    public static Layer first(int dInner, int dState, int channels, int states) {
        return select(new float[dInner * dState], dInner, dState, channels, states);
    }
}
