package org.ssmpeft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.adapters.Interop;
import org.ssmpeft.runtime.safetensors.SafetensorsFile;

/**
 * A trace of {@code torch.optim.AdamW} stepped by transformers' warm-up schedules ({@code make_interop.py adamw},
 * {@code interop/adamw/}: three tensors of 37, 128 and 203 values, 8 steps of fixed seeded gradients whose scale
 * changes by 10x between steps; linear warm-up 3 without weight decay, cosine warm-up 2 with decay 0.1, constant
 * warm-up 1 with decay 0.01) is reproduced by {@link AdamW} and {@link LearningRateSchedule}: the learning rate of
 * every step bit for bit (float64), both moments after every step bit for bit (float32; PyTorch's CPU kernels
 * compute {@code lerp} and {@code addcmul} with fused multiply-adds, and so does {@link AdamW}), and the parameters
 * within {@value #MAX_ULPS} ulps of {@code max(|θ before|, |θ after|)} (measured and printed; see the README).
 */
class AdamWInteropTest {

    /**
     * A bound, not the measurement (15 on the constant schedule at lr 5e-2, 1-2 on the others): about 1% of the updates
     * round one or two ulps apart from PyTorch's addcdiv, and those differences are carried into later steps.
     */
    static final int MAX_ULPS = 16;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"linear_wd0, LINEAR, 3, 0.0, 1e-2", "cosine_wd01, COSINE, 2, 0.1, 3e-3",
            "constant_wd001, CONSTANT, 1, 0.01, 5e-2"})
    void torchAdamWWithTransformersSchedulesIsReproduced(String run, LearningRateSchedule.Kind kind, int warmup,
                                                         double weightDecay, double lr) throws Exception {
        try (var trace = SafetensorsFile.open(Interop.resource("adamw/adamw-trace.safetensors"))) {
            List<String> names = List.of("p0", "p1", "p2");
            int steps = 8;
            List<TrainableParameter> params = new ArrayList<>();
            for (String n : names) {
                float[] init = trace.readFloats("init." + n);
                params.add(TrainableParameter.ofAdapter("a", n, Tensor.of(init, init.length), true));
            }
            var schedule = new LearningRateSchedule(kind, warmup, steps);
            var adamw = AdamW.withWeightDecay(weightDecay);
            // F64: the learning rates as Python floats
            double[] torchLr = trace.bytes(run + ".lr").toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED
                    .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
            long[] worst = new long[3]; // param, exp_avg, exp_avg_sq
            long differing = 0;
            double worstStepUlps = 0;
            double worstAbs = 0;
            List<float[]> previous = new ArrayList<>();
            for (TrainableParameter p : params) {
                previous.add(p.value().data().clone());
            }
            long total = 0;
            for (int s = 0; s < steps; s++) {
                double ours = schedule.learningRate(lr, s);
                assertThat(ours).as(run + " learning rate of step " + s).isEqualTo(torchLr[s]);
                Map<String, float[]> grads = new LinkedHashMap<>();
                for (int k = 0; k < names.size(); k++) {
                    grads.put(params.get(k).key(), trace.readFloats("grad." + s + "." + names.get(k)));
                }
                for (int k = 0; k < names.size(); k++) {
                    // torch's parameters before this step, so that each step is compared on its own
                    previous.set(k, s == 0 ? trace.readFloats("init." + names.get(k))
                            : trace.readFloats(run + "." + (s - 1) + "." + names.get(k) + ".param"));
                }
                adamw.step(params, grads, ours);
                Map<String, Tensor> state = adamw.state();
                for (int k = 0; k < names.size(); k++) {
                    TrainableParameter p = params.get(k);
                    String prefix = run + "." + s + "." + names.get(k) + ".";
                    float[][] pairs = {p.value().data(), trace.readFloats(prefix + "param"),
                            state.get(p.key() + ".exp_avg").data(), trace.readFloats(prefix + "exp_avg"),
                            state.get(p.key() + ".exp_avg_sq").data(), trace.readFloats(prefix + "exp_avg_sq")};
                    for (int q = 0; q < 3; q++) {
                        for (int i = 0; i < pairs[2 * q].length; i++) {
                            long d = ulps(pairs[2 * q][i], pairs[2 * q + 1][i]);
                            if (q == 0) {
                                // in ulps of θ + Δθ's larger operand: the sum that cancels to near 0 has tiny ulps
                                float scale = Math.max(Math.abs(previous.get(k)[i]), Math.abs(pairs[1][i]));
                                worstStepUlps = Math.max(worstStepUlps, Math.abs(pairs[0][i] - pairs[1][i])
                                        / Math.ulp(Math.max(scale, Float.MIN_NORMAL)));
                                worstAbs = Math.max(worstAbs, Math.abs(pairs[0][i] - pairs[1][i]));
                            }
                            worst[q] = Math.max(worst[q], d);
                            differing += d == 0 ? 0 : 1;
                            total++;
                        }
                    }
                }
            }
            System.out.printf("torch AdamW + transformers %s schedule (%s): lr bit for bit; max ulps param %d"
                    + " (%.2f ulps of max(|θ before|, |θ after|), %.2e abs), exp_avg %d, exp_avg_sq %d; %d of %d values not"
                    + " bit-identical%n", kind.configName(), run, worst[0], worstStepUlps, worstAbs, worst[1],
                    worst[2], differing, total);
            assertThat(worst[1]).as("exp_avg ulps").isZero();
            assertThat(worst[2]).as("exp_avg_sq ulps").isZero();
            assertThat(worstStepUlps).as("parameter error in ulps of max(|θ before|, |θ after|)").isLessThanOrEqualTo(MAX_ULPS);
        }
    }

    /** The distance of two floats in units in the last place (0 for equal values, +0 and -0 alike). */
    static long ulps(float a, float b) {
        int ia = Float.floatToRawIntBits(a);
        int ib = Float.floatToRawIntBits(b);
        long la = ia < 0 ? (long) Integer.MIN_VALUE - ia : ia;
        long lb = ib < 0 ? (long) Integer.MIN_VALUE - ib : ib;
        return Math.abs(la - lb);
    }
}
