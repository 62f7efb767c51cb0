package org.ssmpeft.runtime.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.cuda.driver.CudaContext;
import org.ssmpeft.runtime.cuda.driver.CudaUnavailableException;
import org.ssmpeft.runtime.cuda.driver.DeviceArena;
import org.ssmpeft.runtime.cuda.driver.DeviceBuffer;
import org.ssmpeft.runtime.cuda.layers.OptimizerKernels;
import org.ssmpeft.runtime.train.AdamW;
import org.ssmpeft.runtime.train.GradientAccumulator;
import org.ssmpeft.runtime.train.TrainableParameter;

/**
 * {@code optimizer.cu} on the GPU against the host classes it twins: AdamW over three tensors of odd sizes (one
 * decayed, one at a 4x learning-rate scale) in ONE launch for 5 steps against {@code train.AdamW}, values and moments
 * bit for bit; the float64 accumulation of two micro-batches and its finish against {@code GradientAccumulator}, bit
 * for bit; the per-tensor sums of squares to 1e-12 relative (another summation order); a NaN flagged at its index.
 */
@Tag("gpu")
class OptimizerKernelsGpuTest {

    private static final int[] SIZES = {1000, 37, 4099};
    private static final int ALIGN = 64;

    private static CudaContext context;
    private static OptimizerKernels kernels;
    private static String unavailable;

    @BeforeAll
    static void open() {
        try {
            context = CudaContext.open(0);
            System.out.println("GPU: " + context.deviceName() + " (" + context.architecture() + ")");
            kernels = new OptimizerKernels(context);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage();
            if (context != null) {
                context.close();
                context = null;
            }
        }
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
    }

    @BeforeEach
    void skipWithoutAGpu() {
        assumeTrue(kernels != null, () -> unavailable);
    }

    private static int[] offsets() {
        int[] off = new int[SIZES.length];
        int at = 0;
        for (int k = 0; k < SIZES.length; k++) {
            off[k] = at;
            at += (SIZES[k] + ALIGN - 1) / ALIGN * ALIGN;
        }
        return off;
    }

    private static int total() {
        int[] off = offsets();
        return off[SIZES.length - 1] + SIZES[SIZES.length - 1];
    }

    private static float[] table(float[] stepSize, float[] keep) {
        int[] off = offsets();
        float[] t = new float[4 * SIZES.length];
        for (int k = 0; k < SIZES.length; k++) {
            t[4 * k] = Float.intBitsToFloat(off[k]);
            t[4 * k + 1] = Float.intBitsToFloat(SIZES[k]);
            t[4 * k + 2] = stepSize[k];
            t[4 * k + 3] = keep[k];
        }
        return t;
    }

    private static float[] flat(List<float[]> parts) {
        int[] off = offsets();
        float[] out = new float[total()];
        for (int k = 0; k < parts.size(); k++) {
            System.arraycopy(parts.get(k), 0, out, off[k], parts.get(k).length);
        }
        return out;
    }

    private static float[] segment(float[] flat, int k) {
        int o = offsets()[k];
        return java.util.Arrays.copyOfRange(flat, o, o + SIZES[k]);
    }

    @Test
    void oneAdamwLaunchOverEveryTensorEqualsTheHostAdamwBitForBit() {
        var rng = new Random(3);
        List<TrainableParameter> params = new ArrayList<>();
        double[] scales = {1.0, 4.0, 1.0};
        boolean[] decays = {true, false, true};
        for (int k = 0; k < SIZES.length; k++) {
            float[] v = new float[SIZES[k]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rng.nextGaussian();
            }
            params.add(TrainableParameter.ofAdapter("a", "p" + k, Tensor.of(v, v.length), decays[k], scales[k]));
        }
        double wd = 0.1;
        AdamW host = new AdamW(0.9, 0.999, 1e-8, wd);
        try (DeviceArena arena = context.arena()) {
            List<float[]> values = params.stream().map(p -> p.value().data().clone()).toList();
            DeviceBuffer theta = arena.upload(flat(values));
            DeviceBuffer m = arena.upload(new float[total()]);
            DeviceBuffer v = arena.upload(new float[total()]);
            DeviceBuffer g = arena.allocateFloats(total());
            DeviceBuffer table = arena.allocateFloats(4L * SIZES.length);
            DeviceBuffer bad = arena.allocateFloats(1);
            for (int step = 1; step <= 5; step++) {
                double lr = 1e-2 / step;
                Map<String, float[]> grads = new LinkedHashMap<>();
                List<float[]> gs = new ArrayList<>();
                for (TrainableParameter p : params) {
                    float[] gr = new float[p.value().size()];
                    for (int i = 0; i < gr.length; i++) {
                        gr[i] = (float) (rng.nextGaussian() * 0.3);
                    }
                    grads.put(p.key(), gr);
                    gs.add(gr.clone());
                }
                g.copyFrom(flat(gs));
                host.step(params, grads, lr);
                double bias1 = 1 - Math.pow(0.9, step);
                float[] stepSize = new float[SIZES.length];
                float[] keep = new float[SIZES.length];
                for (int k = 0; k < SIZES.length; k++) {
                    double groupLr = lr * scales[k];
                    stepSize[k] = (float) (groupLr / bias1);
                    keep[k] = decays[k] ? (float) (1 - groupLr * wd) : 1f;
                }
                table.copyFrom(table(stepSize, keep));
                bad.copyFrom(new float[] {Float.intBitsToFloat(total())});
                kernels.adamwStep(theta.address(), m.address(), v.address(), g.address(), table.address(),
                        SIZES.length, 4099, 1f, (float) (1 - 0.9), (float) 0.999, (float) (1 - 0.999),
                        (float) Math.sqrt(1 - Math.pow(0.999, step)), (float) 1e-8, bad.address());
                context.syncStream();
                float[] th = theta.toFloats(total());
                float[] mm = m.toFloats(total());
                float[] vv = v.toFloats(total());
                Map<String, Tensor> state = host.state();
                for (int k = 0; k < SIZES.length; k++) {
                    String key = params.get(k).key();
                    assertThat(segment(th, k)).as("θ of tensor " + k + " after step " + step)
                            .containsExactly(params.get(k).value().data());
                    assertThat(segment(mm, k)).as("m of tensor " + k).containsExactly(state.get(key + ".exp_avg")
                            .data());
                    assertThat(segment(vv, k)).as("v of tensor " + k).containsExactly(state.get(key + ".exp_avg_sq")
                            .data());
                }
                assertThat(Float.floatToRawIntBits(bad.toFloats(1)[0])).isEqualTo(total());
            }
        }
    }

    @Test
    void theAccumulationEqualsTheHostsAndANanIsFlaggedAtItsIndex() {
        var rng = new Random(4);
        int n = total();
        TrainableParameter p = TrainableParameter.ofAdapter("a", "w", Tensor.of(new float[n], n), false);
        var acc = new GradientAccumulator(List.of(p));
        try (DeviceArena arena = context.arena()) {
            DeviceBuffer sum = arena.upload(new float[2 * n]);
            DeviceBuffer g = arena.allocateFloats(n);
            DeviceBuffer out = arena.allocateFloats(n);
            DeviceBuffer bad = arena.allocateFloats(1);
            int[] targets = {7, 12};
            for (int t : targets) {
                float[] gr = new float[n];
                for (int i = 0; i < n; i++) {
                    gr[i] = (float) rng.nextGaussian();
                }
                acc.add(new org.ssmpeft.runtime.backend.LossAndGradients(1.0, t, null,
                        Map.of("a", Map.of("w", Tensor.of(gr.clone(), n))), Map.of()));
                g.copyFrom(gr);
                bad.copyFrom(new float[] {Float.intBitsToFloat(n)});
                kernels.accumulateGradient(sum.address(), g.address(), t, n, bad.address());
                assertThat(Float.floatToRawIntBits(bad.toFloats(1)[0])).isEqualTo(n);
            }
            kernels.finishGradient(out.address(), sum.address(), 19.0, n);
            assertThat(out.toFloats(n)).containsExactly(acc.gradients().get(p.key()));
            float[] withNan = new float[n];
            withNan[1234] = Float.NaN;
            withNan[2000] = Float.POSITIVE_INFINITY;
            g.copyFrom(withNan);
            bad.copyFrom(new float[] {Float.intBitsToFloat(n)});
            kernels.accumulateGradient(sum.address(), g.address(), 1.0, n, bad.address());
            assertThat(Float.floatToRawIntBits(bad.toFloats(1)[0])).isEqualTo(1234);
        }
    }
}
