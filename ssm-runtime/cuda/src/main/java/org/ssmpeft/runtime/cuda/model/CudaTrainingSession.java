package org.ssmpeft.runtime.cuda.model;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.ssmpeft.api.adapter.Adapter;
import org.ssmpeft.api.tensor.Tensor;
import org.ssmpeft.runtime.backend.TrainingSession;
import org.ssmpeft.runtime.plan.HookPlan;
import org.ssmpeft.runtime.plan.Term;

/**
 * A training run on the device ({@link TrainingSession}): the trainable tensors θ, their gradient, its float64
 * micro-batch sum and AdamW's moments m, v live in flat device buffers for the whole run, each tensor a segment
 * (256-byte aligned) of them. One micro-batch: {@link CudaMamba#lossAndDeviceGradients} (forward and backward,
 * the plan's trainable terms read from θ where they are one tensor whole, from a buffer assembled from θ where they
 * are sums or concatenations), the terms' gradients routed into the flat gradient on the device (as
 * {@code HookPlan.result} routes them on the host), summed weighted by the targets; one int comes back (the first
 * non-finite element). One step: the mean gradient, per-segment sums of squares (one double per tensor back), then
 * ONE AdamW launch over every segment with the clipping coefficient, and one int back (the first non-finite value).
 * θ, m and v come to the host only in {@link #toHost} and {@link #optimizerState}.
 *
 * <p>The arithmetic is the host's ({@code GradientAccumulator}, {@code GradientClipping}, {@code AdamW}) element for
 * element; the one difference is the order of the norm's sum of squares within a tensor (a block reduction in
 * double): the norm may differ from the host's in its last bits, and the float32 clipping coefficient derived from
 * it only where the double quotient lies within those bits of a float rounding boundary.
 *
 * <p>Offered ({@link #supports}) for adapters whose hooks hand out their parameters themselves (no derived values,
 * no DoRA, no parameter deltas) and no trained base weights; the trainer runs the others through the host.
 */
final class CudaTrainingSession implements TrainingSession {

    private static final int ALIGN = 64; // floats

    /** Where the gradient of a term goes: rows of {@code source} into segment {@code segment}. */
    private record Route(Term term, Term.Source source, int segment) {
    }

    /** A term that is a sum or concatenation of trainable tensors: its device buffer, assembled from θ. */
    private record Assembled(Term term, long buffer) {
    }

    private final CudaMamba model;
    private final Device device;
    private final OptimizerOps ops;
    private final HookPlan hooks;
    private final Settings settings;
    private final DeviceMemory.Arena arena;
    private final int segments;
    private final int[] offset;
    private final int[] length;
    private final long total;
    private final long maxLength;
    private final long theta;
    private final long m;
    private final long v;
    private final long g;
    private final long routed;
    private final long sum;
    private final long norms;
    private final long table;
    private final long firstBad;
    private final Map<Term, Long> resident = new IdentityHashMap<>();
    private final List<Assembled> assembled = new ArrayList<>();
    private final List<Route> routes = new ArrayList<>();
    private boolean hasMoments;
    private long steps;
    private double weightedLoss;
    private long targets;

    /** Why a run cannot stay on the device, or empty when it can. */
    static Optional<String> supports(HookPlan hooks, Settings settings) {
        if (!settings.trainableBaseNames().isEmpty()) {
            return Optional.of("base weights are trained (" + String.join(", ", settings.trainableBaseNames()) + ")");
        }
        if (!hooks.parameterDeltas().isEmpty()) {
            return Optional.of("parameter deltas act");
        }
        for (Adapter a : hooks.acting()) {
            if (overrides(a, "parameterGradients", java.util.IdentityHashMap.class) || overrides(a, "refreshDerived")) {
                return Optional.of("adapter '" + a.name() + "' derives its hook values from its parameters");
            }
        }
        Map<Tensor, Integer> index = index(settings);
        if (index.size() != settings.trainables().size()) {
            return Optional.of("a trainable tensor is not an adapter's own");
        }
        for (Term t : DevicePlan.terms(hooks, hooks.spec().shape().layers())) {
            long trainable = t.sources().stream().filter(s -> index.containsKey(s.tensor())).count();
            if (trainable != 0 && trainable != t.sources().size()) {
                return Optional.of(t + " mixes trainable and frozen tensors");
            }
        }
        for (int l = 0; l < hooks.spec().shape().layers(); l++) {
            for (String module : DevicePlan.MODULES) {
                if (hooks.layer(l).deltas(module).stream().anyMatch(d -> d.dora().isPresent())) {
                    return Optional.of("a DoRA delta acts (its gain is computed from the values on the host)");
                }
            }
        }
        if (hooks.head().stream().anyMatch(d -> d.dora().isPresent())) {
            return Optional.of("a DoRA delta acts (its gain is computed from the values on the host)");
        }
        long floats = 0;
        for (Trainable t : settings.trainables()) {
            floats += footprint(t.value().size());
        }
        if (floats > Integer.MAX_VALUE) {
            return Optional.of(floats + " trainable floats; the device session indexes at most 2^31");
        }
        return Optional.empty();
    }

    private static boolean overrides(Adapter a, String name, Class<?>... parameters) {
        try {
            Method method = a.getClass().getMethod(name, parameters);
            return method.getDeclaringClass() != Adapter.class;
        } catch (NoSuchMethodException e) {
            return true;
        }
    }

    private static Map<Tensor, Integer> index(Settings settings) {
        Map<Tensor, Integer> index = new IdentityHashMap<>();
        for (int k = 0; k < settings.trainables().size(); k++) {
            Trainable t = settings.trainables().get(k);
            if (t.adapter().isPresent()) {
                index.put(t.value(), k);
            }
        }
        return index;
    }

    private static long footprint(long n) {
        return Math.max(ALIGN, (n + ALIGN - 1) / ALIGN * ALIGN);
    }

    /** Under the device lock: the run's buffers, θ from the trainables' host values, zero moments. */
    CudaTrainingSession(CudaMamba model, Device device, HookPlan hooks, Settings settings) {
        this.model = model;
        this.device = device;
        this.ops = device.optimizer().orElseThrow();
        this.hooks = hooks;
        this.settings = settings;
        List<Trainable> ts = settings.trainables();
        this.segments = ts.size();
        this.offset = new int[segments];
        this.length = new int[segments];
        long at = 0;
        long longest = 0;
        for (int k = 0; k < segments; k++) {
            offset[k] = Math.toIntExact(at);
            length[k] = ts.get(k).value().size();
            longest = Math.max(longest, length[k]);
            at += footprint(length[k]);
        }
        this.total = Math.max(ALIGN, at);
        this.maxLength = longest;
        this.arena = device.memory().arena();
        DeviceMemory mem = device.memory();
        theta = arena.floats(total);
        m = arena.floats(total);
        v = arena.floats(total);
        g = arena.floats(total);
        routed = arena.floats(total);
        sum = arena.floats(2 * total);
        norms = arena.floats(2L * Math.max(1, segments));
        table = arena.floats((long) org.ssmpeft.runtime.cuda.layers.OptimizerKernels.SEGMENT_INTS * Math.max(1,
                segments));
        firstBad = arena.floats(1);
        for (long b : new long[] {theta, m, v, g, routed}) {
            mem.zero(b, total);
        }
        mem.zero(sum, 2 * total);
        Map<Tensor, Integer> index = index(settings);
        for (Term t : new LinkedHashSet<>(DevicePlan.terms(hooks, hooks.spec().shape().layers()))) {
            List<Term.Source> sources = t.sources();
            if (sources.isEmpty() || !index.containsKey(sources.get(0).tensor())) {
                continue; // a frozen term (PiSSA's A0, B0): uploaded by every call from its host values
            }
            for (Term.Source s : sources) {
                routes.add(new Route(t, s, index.get(s.tensor())));
            }
            Term.Source first = sources.get(0);
            if (sources.size() == 1 && first.offset() == 0 && first.stride() == first.cols()
                    && (long) first.rows() * first.cols() == t.size()) {
                resident.put(t, theta + 4L * offset[index.get(first.tensor())]);
            } else {
                long buffer = arena.floats(t.size());
                resident.put(t, buffer);
                assembled.add(new Assembled(t, buffer));
            }
        }
        upload();
    }

    // θ's segments <- the trainables' host values; the assembled terms from θ
    private void upload() {
        DeviceMemory mem = device.memory();
        for (int k = 0; k < segments; k++) {
            mem.upload(theta + 4L * offset[k], settings.trainables().get(k).value().data());
        }
        assemble();
    }

    // term = Σ its sources' blocks of θ, in source order (the host's Sum, a float sum from 0: the same bits)
    private void assemble() {
        DeviceMemory mem = device.memory();
        LayerOps k = device.layers();
        Map<Term, Long> buffers = new IdentityHashMap<>();
        assembled.forEach(a -> buffers.put(a.term(), a.buffer()));
        for (Assembled a : assembled) {
            mem.zero(a.buffer(), a.term().size());
        }
        for (Route r : routes) {
            Long buffer = buffers.get(r.term());
            if (buffer != null) {
                blocks(r, buffer, theta + 4L * offset[r.segment()], true);
            }
        }
    }

    /**
     * Adds the rows of a source between a term's buffer and its tensor's segment: into the term when
     * {@code intoTerm}, else into the segment (the gradient's route).
     */
    private void blocks(Route r, long term, long segment, boolean intoTerm) {
        Term.Source s = r.source();
        LayerOps k = device.layers();
        if (s.stride() == s.cols()) {
            long n = (long) s.rows() * s.cols();
            long t = term + 4L * s.offset();
            k.addScaled(intoTerm ? t : segment, intoTerm ? segment : t, 1f, n);
            return;
        }
        for (int row = 0; row < s.rows(); row++) {
            long t = term + 4L * (s.offset() + (long) row * s.stride());
            long p = segment + 4L * row * s.cols();
            k.addScaled(intoTerm ? t : p, intoTerm ? p : t, 1f, s.cols());
        }
    }

    @Override
    public String where() {
        return model.deviceName();
    }

    @Override
    public void beginStep() {
        device.locked(() -> device.memory().zero(sum, 2 * total));
        weightedLoss = 0;
        targets = 0;
    }

    @Override
    public MicroBatch addMicroBatch(int[][] tokens, int[][] labels) {
        return device.locked(() -> {
            CudaMamba.DeviceLoss loss = model.lossAndDeviceGradients(hooks, resident, tokens, labels, grads -> {
                device.memory().zero(routed, total);
                for (Route r : routes) {
                    blocks(r, grads.term(r.term()), routed + 4L * offset[r.segment()], false);
                }
            });
            if (!Double.isFinite(loss.loss())) {
                return new MicroBatch(loss.loss(), loss.targets(), Optional.empty());
            }
            resetBad();
            ops.accumulateGradient(sum, routed, loss.targets(), total, firstBad);
            Optional<NonFinite> bad = bad(routed);
            weightedLoss += (double) loss.targets() * loss.loss();
            targets += loss.targets();
            return new MicroBatch(loss.loss(), loss.targets(), bad);
        });
    }

    private void resetBad() {
        device.memory().upload(firstBad, new float[] {Float.intBitsToFloat((int) total)});
    }

    // the first non-finite element flagged since resetBad, read from the flat buffer {@code values}
    private Optional<NonFinite> bad(long values) {
        int at = Float.floatToRawIntBits(device.memory().download(firstBad, 1)[0]);
        if (at >= total) {
            return Optional.empty();
        }
        int k = segments - 1;
        while (offset[k] > at) {
            k--;
        }
        float value = device.memory().download(values + 4L * at, 1)[0];
        return Optional.of(new NonFinite(k, at - offset[k], value));
    }

    @Override
    public Update step(double lr, double maxGradNorm) {
        return device.locked(() -> {
            DeviceMemory mem = device.memory();
            ops.finishGradient(g, sum, (double) targets, total);
            uploadTable(new float[segments], new float[segments]);
            ops.segmentSumSquares(norms, g, table, segments);
            double[] squares = doubles(mem.download(norms, 2L * segments), segments);
            // GradientClipping.globalNorm: the norm of the per-tensor norms
            double sumOfSquares = 0;
            for (double s : squares) {
                double n = Math.sqrt(s);
                sumOfSquares += n * n;
            }
            double norm = Math.sqrt(sumOfSquares);
            float coef = maxGradNorm > 0 ? (float) Math.min(1.0, maxGradNorm / (norm + 1e-6)) : 1f;
            // AdamW.step's scalar factors, in double, rounded to float where it rounds them
            steps++;
            hasMoments = true;
            double bias1 = 1 - Math.pow(settings.beta1(), steps);
            double bias2Sqrt = Math.sqrt(1 - Math.pow(settings.beta2(), steps));
            float[] stepSize = new float[segments];
            float[] keep = new float[segments];
            for (int k = 0; k < segments; k++) {
                Trainable t = settings.trainables().get(k);
                double groupLr = lr * t.learningRateScale();
                stepSize[k] = (float) (groupLr / bias1);
                keep[k] = t.weightDecay() && settings.weightDecay() != 0
                        ? (float) (1 - groupLr * settings.weightDecay()) : 1f;
            }
            uploadTable(stepSize, keep);
            resetBad();
            ops.adamwStep(theta, m, v, g, table, segments, maxLength, coef, (float) (1 - settings.beta1()),
                    (float) settings.beta2(), (float) (1 - settings.beta2()), (float) bias2Sqrt,
                    (float) settings.eps(), firstBad);
            Optional<NonFinite> bad = bad(theta);
            assemble();
            return new Update(targets == 0 ? 0 : weightedLoss / targets, targets, norm, bad);
        });
    }

    private void uploadTable(float[] stepSize, float[] keep) {
        int w = org.ssmpeft.runtime.cuda.layers.OptimizerKernels.SEGMENT_INTS;
        float[] t = new float[w * Math.max(1, segments)];
        for (int k = 0; k < segments; k++) {
            t[w * k] = Float.intBitsToFloat(offset[k]);
            t[w * k + 1] = Float.intBitsToFloat(length[k]);
            t[w * k + 2] = stepSize[k];
            t[w * k + 3] = keep[k];
        }
        device.memory().upload(table, t);
    }

    /** float64 values from their bytes as downloaded floats (little-endian: the low word first). */
    static double[] doubles(float[] words, int n) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            long lo = Float.floatToRawIntBits(words[2 * i]) & 0xffffffffL;
            long hi = Float.floatToRawIntBits(words[2 * i + 1]) & 0xffffffffL;
            out[i] = Double.longBitsToDouble(hi << 32 | lo);
        }
        return out;
    }

    @Override
    public void toHost() {
        float[] all = device.locked(() -> device.memory().download(theta, total));
        for (int k = 0; k < segments; k++) {
            float[] dst = settings.trainables().get(k).value().data();
            System.arraycopy(all, offset[k], dst, 0, length[k]);
        }
    }

    @Override
    public void valuesChanged() {
        device.locked(this::upload);
    }

    @Override
    public long optimizerSteps() {
        return steps;
    }

    @Override
    public Map<String, Tensor> optimizerState() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (!hasMoments) {
            return out;
        }
        float[][] mv = device.locked(() -> new float[][] {device.memory().download(m, total),
                device.memory().download(v, total)});
        for (int k = 0; k < segments; k++) {
            String key = settings.trainables().get(k).key();
            out.put(key + ".exp_avg", Tensor.of(java.util.Arrays.copyOfRange(mv[0], offset[k], offset[k] + length[k]),
                    length[k]));
            out.put(key + ".exp_avg_sq", Tensor.of(java.util.Arrays.copyOfRange(mv[1], offset[k],
                    offset[k] + length[k]), length[k]));
        }
        return out;
    }

    @Override
    public void loadOptimizer(Map<String, Tensor> state, long steps) {
        device.locked(() -> {
            DeviceMemory mem = device.memory();
            mem.zero(m, total);
            mem.zero(v, total);
            boolean any = false;
            for (int k = 0; k < segments; k++) {
                String key = settings.trainables().get(k).key();
                Tensor mk = state.get(key + ".exp_avg");
                Tensor vk = state.get(key + ".exp_avg_sq");
                if (mk != null && vk != null) {
                    mem.upload(m + 4L * offset[k], mk.data());
                    mem.upload(v + 4L * offset[k], vk.data());
                    any = true;
                }
            }
            hasMoments = any;
        });
        this.steps = steps;
    }

    @Override
    public void close() {
        device.ifOpen(() -> {
            device.memory().sync();
            arena.close();
        });
    }
}
